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
  ensureTopology,
} from "./ensure-topology.ts";
export {
  publishEvent,
} from "./events.ts";
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
  publishSend,
  publishBatch,
  publishFailure,
  createProducer,
  type ProducerDeps,
  type SendOptions,
  type Producer,
} from "./sdk.ts";
export {
  tenantStats,
} from "./stats.ts";
export {
  readBatchCounts,
  readMessageStatus,
  applyStatusLimits,
} from "./status.ts";
export {
  addSuppression,
  getSuppression,
  removeSuppression,
  listSuppressions,
} from "./suppressions.ts";
export {
  getTenantSettings,
  setTenantSettings,
  listTenantSettings,
  counterValue,
  reserveBlock,
  releaseBlock,
} from "./tenants.ts";
export {
  addHealthCounts,
  readHealthWindow,
  resetHealthWindow,
  getBreaker,
  setBreaker,
  resumeTenant,
} from "./tenant-health.ts";
export {
  holdMessage,
  releaseHeld,
} from "./held.ts";
export {
  sendStreamDescription,
  ADVISORY_STREAM,
  maxDeliveriesAdvisorySubject,
  topologyFor,
  topologyOptionsFrom,
  TENANT_HEALTH_CONSUMER,
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
