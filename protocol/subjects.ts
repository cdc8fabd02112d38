/** Subject and stream names: the only place they are spelled. */

export const TIERS = ["critical", "transactional", "bulk"] as const;
export type TierName = (typeof TIERS)[number];

export const EVENT_TYPES = [
  "accepted",
  "queued",
  "deferred",
  "delivered",
  "bounced",
  "failed",
  "suppressed",
  "dead_lettered",
  // The reputation loop (what comes back after the 250): asynchronous bounces arrive as
  // `bounced` with `async: true`; these four never come from a delivery attempt.
  "soft_bounced",
  "complained",
  "auto_replied",
  "unsubscribed",
  // Scheduling (protocol/schedule-*.ts): waiting for sendAt; never to be sent (cancel, expiry).
  "scheduled",
  "cancelled",
  "expired",
  // Tenants (issue 16): accepted over the daily quota with onQuota "hold"; released (queued) when it renews.
  "held",
] as const;
export type EventTypeName = (typeof EVENT_TYPES)[number];

export const STREAMS = {
  send: "MAIL_SEND",
  jobs: "MAIL_JOBS",
  events: "MAIL_EVENTS",
  dlq: "MAIL_DLQ",
  webhooks: "MAIL_WEBHOOKS",
  /** Raw inbound mail (bounces, feedback reports, auto-replies), stored before the inbound server answers 250. */
  inbound: "MAIL_INBOUND",
  /** Scheduled mail: held recipient messages and time-bucketed due entries (protocol/schedule-store.ts). */
  scheduled: "MAIL_SCHEDULED",
  /** Recipient messages held off MAIL_SEND (a paused tenant's bulk), released by `sluice tenants resume`. */
  held: "MAIL_HELD",
  /** A slow destination's overflow, parked off MAIL_SEND until its queue drains (protocol/parking.ts). */
  parked: "MAIL_PARKED",
} as const;

export const OBJECT_STORES = {
  payloads: "mail_payloads",
} as const;

export const KV_BUCKETS = {
  keys: "sluice_keys",
  policies: "sluice_policies",
  suppressions: "sluice_suppressions",
  idempotency: "sluice_idempotency",
  nodes: "sluice_nodes",
  status: "sluice_status",
  batches: "sluice_batches",
  /** Per-batch status counts, one key per (batch, indexer process); see protocol/status.ts. */
  batchCounts: "sluice_batch_counts",
  partitions: "sluice_partitions",
  webhooks: "sluice_webhooks",
  /** Attempt history of messages that failed at least once (a JetStream message cannot change on nak). */
  attempts: "sluice_attempts",
  /** Stored templates: `<tenant>.<id>` (latest version) and `<tenant>.<id>.<version>`; see protocol/templates.ts. */
  templates: "sluice_templates",
  /** Sender domains per tenant (`t.<tenant>.<domain>`, keys sealed) and their verified owner (`o.<domain>`). */
  domains: "sluice_domains",
  /** One record per scheduled request or batch: plan, state, version (protocol/schemas/schedule.ts). */
  schedules: "sluice_schedules",
  /** Single-leader leases of cluster-wide singletons (the scheduler). */
  leaders: "sluice_leaders",
  /** Tenant settings (quota, rate, weight, reputation thresholds); key = the tenant. */
  tenants: "sluice_tenants",
  /** Cluster-wide counters reserved in blocks by compare-and-set (daily quotas); see protocol/tenants.ts. */
  tenantCounters: "sluice_tenant_counters",
  /** Per-second counters of tenants' cluster-wide rates (short TTL). */
  tenantRates: "sluice_tenant_rates",
  /** Warm-up counters per (egress source, destination group, UTC day), reserved in blocks by compare-and-set. */
  warmup: "sluice_warmup",
} as const;

/**
 * A tenant name is a subject token, so it is restricted to what a token may hold
 * (no dots, spaces or wildcards).
 */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const subjects = {
  send: (tier: TierName, partition: number): string => `mail.send.${tier}.${partition}`,
  sendTier: (tier: TierName): string => `mail.send.${tier}.*`,
  sendAll: "mail.send.>",
  jobs: "mail.jobs",
  event: (tenant: string, type: EventTypeName): string => `mail.events.${tenant}.${type}`,
  eventsOf: (tenant: string): string => `mail.events.${tenant}.>`,
  eventsAll: "mail.events.>",
  held: (tenant: string, tier: TierName, partition: number): string => `mail.held.${tenant}.${tier}.${partition}`,
  heldOf: (tenant: string): string => `mail.held.${tenant}.>`,
  heldAll: "mail.held.>",
  /** Parked overflow of one destination (token: protocol/parking.ts) from one partition. */
  parked: (partition: number, destinationToken: string): string => `mail.parked.${partition}.${destinationToken}`,
  parkedOf: (partition: number): string => `mail.parked.${partition}.*`,
  parkedAll: "mail.parked.>",
  dlq: (tenant: string, id: string): string => `mail.dlq.${tenant}.${id}`,
  dlqOf: (tenant: string): string => `mail.dlq.${tenant}.>`,
  dlqAll: "mail.dlq.>",
  /** One webhook endpoint's work lane: events of one message always take the same lane. */
  webhook: (endpointId: string, lane: number): string => `mail.webhooks.${endpointId}.${lane}`,
  webhooksOf: (endpointId: string): string => `mail.webhooks.${endpointId}.>`,
  webhooksAll: "mail.webhooks.>",
  inbound: "mail.inbound",
  /** Due entries, bucketed by the second they are due (unix seconds). */
  schedDue: (second: number): string => `mail.sched.due.${second}`,
  schedDueAll: "mail.sched.due.>",
  /** Held recipient messages of one slice of a scheduled request. */
  schedHeld: (requestId: string, slice: number): string => `mail.sched.held.${requestId}.${slice}`,
  schedHeldOf: (requestId: string): string => `mail.sched.held.${requestId}.>`,
  schedAll: "mail.sched.>",
  /** Core NATS: the scheduler leader's figure of what the next hours will release (sluice top). */
  scheduleVolume: "sluice.schedule.volume",
} as const;

/** Durable consumer name of one (tier, partition) delivery queue. */
export const sendConsumerName = (tier: TierName, partition: number): string => `send_${tier}_${partition}`;

/** Durable consumer of one webhook endpoint's lane (created with the endpoint, removed with it). */
export const webhookLaneConsumerName = (endpointId: string, lane: number): string => `webhook_${endpointId}_${lane}`;
/** Removed by ensureTopology: webhook fan-out now rides on the status indexer's consumer. */
export const OBSOLETE_WEBHOOK_FANOUT_CONSUMER = "webhook_fanout";
export const STATUS_INDEXER_CONSUMER = "status_indexer";
/** The durable consumer that parses MAIL_INBOUND and acts on what it reports. */
export const INBOUND_CONSUMER = "inbound_parser";
