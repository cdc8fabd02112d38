// The pure contract shared by gateway/, actors/, cli/ and direct producers: schemas, subjects,
// ids, units, classification, request building, config parsing. No I/O here: nothing in
// these files opens a connection or touches a stream, so anything can import it (and the
// unit tests need no server). The NATS side (connect, topology, stores, the producer SDK) is
// `protocol/io/index.ts`; OpenTelemetry is `protocol/telemetry/index.ts`.
// Explicit names, not `export *`: what the contract offers is read here, in one place.
export {
  SluiceError,
  validationError,
  temporaryError,
  permanentError,
  internalError,
  isSluiceError,
  errorMessage,
  type ErrorKind,
} from "./errors.ts";
export {
  parseDuration,
  parseSize,
  formatDuration,
} from "./units.ts";
export {
  normalizeDomain,
  domainOf,
} from "./domain.ts";
export {
  canonicalDomain,
  canonicalAddress,
  matchingAddress,
} from "./canonical-address.ts";
export {
  fnv1a32,
  partitionOf,
} from "./partition.ts";
export {
  TIERS,
  EVENT_TYPES,
  STREAMS,
  OBJECT_STORES,
  KV_BUCKETS,
  TENANT_PATTERN,
  subjects,
  sendConsumerName,
  webhookLaneConsumerName,
  OBSOLETE_WEBHOOK_FANOUT_CONSUMER,
  STATUS_INDEXER_CONSUMER,
  INBOUND_CONSUMER,
  type TierName,
  type EventTypeName,
} from "./subjects.ts";
export {
  PARKED_DELIVERIES_HEADER,
  PARKED_TIER_HEADER,
  destinationToken,
  destinationOfToken,
  parkedConsumerName,
  parseParkedSubject,
} from "./parking.ts";
export {
  newId,
  ID_PATTERN,
  recipientId,
  RECIPIENT_ID_PATTERN,
  payloadRefPattern,
} from "./ids.ts";
export {
  describeIssues,
  check,
  decode,
  encode,
  type Decoded,
} from "./codec.ts";
export {
  parseRoutes,
  routeFor,
  describeRoute,
  withCatchAll,
  type Route,
} from "./routes.ts";
export {
  retryDelay,
  maxAttempts,
  maxDeliveriesOf,
  type RetryPolicy,
} from "./retry.ts";
export {
  NODE_ROLES,
  SETTINGS,
  LOCAL_INSECURE_SECRET_KEY,
  assertSecretKey,
  ENV_DEFAULTS,
  SECRET_ENV,
  loadConfig,
  describeConfig,
  type NodeRole,
  type DomainsConfig,
  type EnvName,
  type Env,
  type Config,
} from "./config.ts";
export {
  HeaderText,
  HeaderName,
  MAX_ADDRESS_LENGTH,
  checkAddress,
  echoValue,
  EmailAddress,
  Mailbox,
} from "./schemas/address.ts";
export {
  headerTextProblem,
  isFieldName,
  isWellFormed,
} from "./schemas/header-text.ts";
export {
  parseMailbox,
  type ParsedMailbox,
} from "./schemas/mailbox-parser.ts";
export {
  RESERVED_HEADERS,
  isReservedHeader,
} from "./schemas/reserved-headers.ts";
export {
  MAX_HEADER_FIELDS,
  HeaderFields,
} from "./schemas/header-fields.ts";
export {
  isBase64,
} from "./schemas/base64.ts";
export {
  Attachment,
  Payload,
  PayloadRef,
  PayloadPointer,
} from "./schemas/payload.ts";
export {
  Tier,
  Tenant,
  RecipientId,
  RequestId,
  Vars,
  StringMap,
  Attempt,
  DeliveryMessage,
  type DeliveryMessageInput,
} from "./schemas/delivery.ts";
export {
  BatchRecipient,
  BatchJob,
} from "./schemas/job.ts";
export {
  EventType,
  SmtpReply,
  MailEvent,
  DeadLetter,
} from "./schemas/event.ts";
export {
  Policy,
  PolicyOverride,
  PolicyFile,
  POLICY_DEFAULTS_KEY,
} from "./schemas/policy.ts";
export {
  Egress,
  EgressSource,
  EgressPool,
  WarmupPlan,
  WarmupSchedule,
  EGRESS_KV_KEY,
  egressProblems,
  mergeEgress,
} from "./schemas/egress.ts";
export {
  WARMUP_PRESETS,
  scheduleOf,
  warmupDay,
  warmupToday,
  releasedSoFar,
  nextRelease,
  warmupCounterKey,
  type WarmupToday,
} from "./warmup.ts";
export {
  CATEGORIES,
  enhancedCodeOf,
  parseSmtpReply,
  categoryOfEnhanced,
  classifyReply,
  throttledLimit,
  suppressesAddress,
  classifyNetworkError,
  type Outcome,
  type Category,
  type Classification,
  type ReplyLike,
} from "./classify.ts";
export {
  eventId,
  messageEvent,
} from "./events.ts";
export {
  payloadBytes,
  payloadRefOf,
} from "./payload-store.ts";
export {
  Suppression,
  suppressionKey,
  suppressionKeys,
} from "./suppressions.ts";
export {
  seriesTag,
  UNKNOWN_TENANT,
  UNREADABLE_ID_PATTERN,
  InvalidDeadLetter,
  rawOf,
  recoverIdentity,
} from "./dead-letters.ts";
export {
  DestinationStats,
  SourceStats,
  NodeStats,
  statsSubject,
  STATS_ALL,
  STATS_INTERVAL_MS,
  type TenantStats,
} from "./stats.ts";
export {
  MAX_MESSAGE_RECIPIENTS,
  MAX_BATCH_RECIPIENTS,
  SendRequest,
  BatchRequest,
  RecipientList,
  BatchProgress,
  requestError,
  parseSendRequest,
  parseBatchRequest,
  envelopeRecipients,
  payloadOfSend,
  payloadOfBatch,
  deliverySubject,
  deliverySubjects,
  buildDeliveries,
  buildBatchDelivery,
  buildBatchJob,
  acceptedEvent,
  type SendRequestInput,
  type BatchRequestInput,
  type SendAccepted,
  type BatchAccepted,
  type Outgoing,
  type BuildContext,
} from "./requests.ts";
export {
  NATS_HEADER_ROOM,
  tooLarge,
  checkEncodedSize,
  checkBatchFits,
} from "./message-size.ts";
export {
  ReputationThresholds,
  TenantSettings,
  DEFAULT_TENANT_SETTINGS,
  utcDay,
  msToNextUtcDay,
  quotaCounterKey,
  rateCounterKey,
  keyRateCounterKey,
  reservationSize,
  type TenantSettingsInput,
  type QuotaFigures,
} from "./tenants.ts";
export {
  HOUR_MS,
  HealthCounts,
  HealthWindow,
  TENANT_STATUSES,
  BreakerState,
  breakerKey,
  healthWindowKey,
  emptyCounts,
  addToWindow,
  windowTotals,
  judge,
  TENANT_EVENT_TYPES,
  TenantEvent,
  tenantEventOf,
  type TenantStatus,
} from "./tenant-health.ts";
export {
  SCOPES,
  Scope,
  ApiKeyRecord,
  KEY_PATTERN,
  hashApiKey,
  keyIdOf,
  generateApiKey,
  parseScopes,
} from "./api-keys.ts";
export {
  WebhookId,
  WEBHOOK_EVENT_TYPES,
  WebhookEvent,
  webhookSubjectOf,
  CreateWebhookRequest,
  WebhookEndpoint,
  WebhookJob,
  type WebhookView,
} from "./schemas/webhook.ts";
export {
  SIGNATURE_HEADER,
  DEFAULT_TOLERANCE_S,
  newWebhookSecret,
  signWebhook,
  verifyWebhook,
  type Verification,
} from "./webhook-signature.ts";
export {
  embeddedIPv4,
  isPrivateAddress,
} from "./net-guard.ts";
export {
  STATUS_EVENTS,
  MESSAGE_STATUSES,
  StatusEvent,
  RecipientRecord,
  RequestRecord,
  statusKey,
  requestOf,
  compactEvent,
  nextStatus,
  applyEvent,
  BatchCounts,
  batchCountsKey,
  type MessageStatus,
  type MessageStatusAnswer,
  type StatusCounts,
} from "./status.ts";
export {
  INBOUND_KINDS,
  INBOUND_OUTCOMES,
  InboundRecipient,
  InboundReport,
  recipientRecord,
  type InboundKind,
  type InboundOutcome,
  type ParsedInbound,
} from "./inbound/report.ts";
export {
  deriveKey,
  verpKey,
  verpAddress,
  parseVerp,
  verifyVerp,
  type VerpKey,
  type VerpParts,
  type VerpCheck,
  type TenantOf,
} from "./inbound/verp.ts";
export {
  unsubscribeKey,
  unsubscribeToken,
  verifyUnsubscribeToken,
  type UnsubscribeClaim,
} from "./inbound/unsubscribe-token.ts";
export {
  parseInbound,
  type ParseOptions,
} from "./inbound/parse.ts";
export {
  attribute,
  type Attribution,
} from "./inbound/attribute.ts";
export {
  SIMULATOR_DOMAIN,
  SIMULATOR_SCENARIOS,
  SIMULATOR_SOFT_BOUNCES,
  simulatorScenario,
  simulatorAddressLines,
  type SimulatorScenario,
} from "./simulator.ts";
export {
  PLACEHOLDER_PATTERN,
  TEMPLATE_NAME_MAX,
  TemplateInput,
  TemplateVersion,
  TemplateHead,
  TemplateView,
  TemplateList,
  RenderRequest,
  RenderedTemplate,
  TemplateVersionQuery,
  TemplateRef,
  templateVariables,
  renderPreview,
  missingVariables,
  missingVarsError,
  templateRefOf,
  withTemplate,
} from "./templates.ts";
export {
  ActivityQuery,
  RecipientPageQuery,
  RecipientRow,
  RecipientPage,
  ActivityPage,
  rowOf,
  activityMatcher,
  TERMINAL_STATUSES,
  batchState,
} from "./activity.ts";
export {
  DOMAIN_STATUSES,
  RECORD_PURPOSES,
  Selector,
  SenderDomain,
  DkimKeyEntry,
  RecordCheck,
  DomainEntry,
  DomainOwner,
  CreateDomainRequest,
  domainKeys,
  spfMechanisms,
  txtStrings,
  dkimRecordValue,
  dkimRecordName,
  spfRecordValue,
  dmarcRecordValue,
  returnPathName,
  returnPathDomainOf,
  domainRecords,
  recordTags,
  checkRecord,
  afterCheck,
  activeKey,
  domainView,
  DOMAIN_EVENT_TYPES,
  DomainEvent,
  domainEventOf,
  type DomainStatus,
  type RecordPurpose,
  type RecordSettings,
  type DnsRecord,
  type Answer,
  type DomainView,
} from "./domains.ts";
export {
  sealingKey,
  seal,
  unseal,
  generateDkimKey,
  importDkimKey,
  newSelector,
  type SealContext,
  type RsaKeyPair,
} from "./domain-keys.ts";
export {
  parseInstant,
  Instant,
  WEEKDAYS,
  DeliveryWindow,
  instantOf,
  openIntervals,
  windowTime,
  openTimeUntil,
  insideWindow,
  Duration,
  type Weekday,
} from "./schedule-time.ts";
export {
  SLICE_MAX,
  sliceSize,
  sliceCount,
  sliceOf,
  sliceRange,
  offsetOf,
  sliceTime,
  lastDueSlice,
  type Plan,
} from "./schedule-plan.ts";
export {
  newRecord,
  planOf,
  wakeTime,
} from "./schedule-record.ts";
export {
  TIMING_FIELDS,
  PACING_FIELDS,
  resolveTiming,
  RescheduleRequest,
  type TimingInput,
  type Timing,
} from "./schedule-request.ts";
export {
  VOLUME_HOURS,
  emptyVolume,
  releasedBy,
  addVolume,
  VolumeSnapshot,
  type ScheduledVolume,
} from "./schedule-volume.ts";
export {
  ScheduleRecord,
  DueEntry,
  HeldMessage,
} from "./schemas/schedule.ts";
