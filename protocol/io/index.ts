// The NATS side of the contract: connecting, the stream/KV/object-store topology and its
// ensuring, the acked publisher, the producer SDK (the public way for producers to publish),
// and the reads and writes on Sluice's KV buckets and streams. The pure contract it builds on
// is `protocol/index.ts`.
export {
  PublishRefusedError,
  AckedPublisher,
  type AckedMessage,
} from "./acked-publisher.ts";
export {
  createApiKey,
  lookupApiKey,
  listApiKeys,
  revokeApiKey,
} from "./api-keys.ts";
export {
  connectNats,
} from "./connect.ts";
export {
  publishDeadLetter,
  deadLetterUnreadable,
} from "./dead-letters.ts";
export {
  listDeadLetters,
  getDeadLetter,
  deleteDeadLetter,
  purgeDeadLetters,
  replayDeadLetter,
  type DlqDeps,
  type UnreadableDeadLetterView,
  type DeadLetterView,
  type StoredDeadLetter,
  type DeadLetterPage,
} from "./dlq-admin.ts";
export {
  dnsResolver,
  checkRecords,
  type SluiceResolver,
} from "./domains-dns.ts";
export {
  domainNotFound,
  DOMAIN_ERROR_STATUS,
  addDomain,
  getDomain,
  listDomains,
  verifyDomain,
  rotateDkim,
  removeDomain,
  type DomainSettings,
  type DomainServiceDeps,
  type CheckOutcome,
} from "./domains-service.ts";
export {
  getDomainEntry,
  listDomainEntries,
  putDomainEntry,
  getDomainOwner,
  claimDomain,
  releaseDomain,
  domainNotVerified,
  VerifiedSenders,
  type StoredDomain,
} from "./domains-store.ts";
export {
  ensureTopology,
} from "./ensure-topology.ts";
export {
  publishEvent,
} from "./events.ts";
export {
  holdMessage,
  releaseHeld,
} from "./held.ts";
export {
  deliveriesOf,
  parkedCopy,
  parkedDestinations,
  parkedConsumer,
} from "./parked.ts";
export {
  listKeys,
} from "./kv-keys.ts";
export {
  coalesceNatsWrites,
} from "./nats-write-coalescing.ts";
export {
  checkWebhookUrl,
  publicOnlyLookup,
} from "./net-guard.ts";
export {
  storePayload,
  storePayloadBytes,
  loadPayload,
} from "./payload-store.ts";
export {
  cancelScheduled,
  rescheduleScheduled,
  type ControlDeps,
  type CancelAnswer,
  type RescheduleAnswer,
} from "./schedule-control.ts";
export {
  scheduleKey,
  heldMessage,
  dueMessage,
  refOf,
  recipientEvent,
  recipientEvents,
  type RecipientRef,
} from "./schedule-messages.ts";
export {
  publishGroup,
  publishScheduledSend,
  scheduleBatch,
  type ScheduleDeps,
} from "./schedule-publish.ts";
export {
  EVENT_WINDOW,
  isCasConflict,
  readSchedule,
  createSchedule,
  updateSchedule,
  publishWindows,
  readSubject,
  readHeld,
  readDue,
  purgeSubject,
  readScheduledVolume,
  type StoredSchedule,
  type StoredEntry,
} from "./schedule-store.ts";
export {
  publishSend,
  publishBatch,
  publishFailure,
  createProducer,
  type ProducerDeps,
  type AcceptOptions,
  type SendOptions,
  type Producer,
} from "./sdk.ts";
export {
  tenantStats,
} from "./stats.ts";
export {
  searchStatusIndex,
  readBatchRecipients,
} from "./status-scan.ts";
export {
  readBatchCounts,
  readMessageStatus,
  applyStatusLimits,
  tenantOfRecipient,
} from "./status.ts";
export {
  addSuppression,
  getSuppression,
  removeSuppression,
  listSuppressions,
} from "./suppressions.ts";
export {
  createTemplate,
  updateTemplate,
  getTemplate,
  templateView,
  listTemplates,
  deleteTemplate,
} from "./template-store.ts";
export {
  addHealthCounts,
  readHealthWindow,
  resetHealthWindow,
  getBreaker,
  setBreaker,
  resumeTenant,
} from "./tenant-health.ts";
export {
  getTenantSettings,
  setTenantSettings,
  listTenantSettings,
  counterValue,
  reserveBlock,
  releaseBlock,
} from "./tenants.ts";
export {
  DEFAULT_SCHEDULE_HORIZON_MS,
  sendStreamDescription,
  ADVISORY_STREAM,
  maxDeliveriesAdvisorySubject,
  topologyFor,
  TENANT_HEALTH_CONSUMER,
  topologyOptionsFrom,
  type TopologyOptions,
  type StreamSpec,
  type ConsumerSpec,
  type KvSpec,
  type ObjectStoreSpec,
  type Topology,
} from "./topology.ts";
export {
  webhookKey,
  laneOf,
  WEBHOOK_ACK_WAIT_MS,
  laneConsumerConfig,
  ensureLaneConsumers,
  viewOf,
  registerWebhook,
  getWebhook,
  listWebhooks,
  removeWebhook,
  type WebhookDeps,
} from "./webhooks.ts";
export { tenantOverview, OVERVIEW_MAX_TENANTS, type TenantRow } from "./tenant-overview.ts";
