import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { KvOptions } from "@nats-io/kv";
import type { ObjectStoreOptions } from "@nats-io/obj";
import { maxDeliveriesOf, type RetryPolicy } from "../retry.ts";
import {
  INBOUND_CONSUMER,
  KV_BUCKETS,
  OBJECT_STORES,
  STATUS_INDEXER_CONSUMER,
  STREAMS,
  TIERS,
  sendConsumerName,
  subjects,
} from "../subjects.ts";

/** What the topology depends on; everything else about it is fixed here. */
export interface TopologyOptions {
  partitions: number;
  replicas: number;
  retry: RetryPolicy;
  ackWaitMs: number;
  maxAckPending: number;
  sendStreamBytes: number;
  duplicateWindowMs: number;
  eventsMaxAgeMs: number;
  dlqMaxAgeMs: number;
  /** Node lease lifetime; a crashed node's partitions are free this long after its last heartbeat. */
  leaseTtlMs: number;
  /** How long a webhook delivery is retried (default 24 h); the webhook stream keeps work a little longer. */
  webhookMaxAgeMs?: number;
  /** How far ahead sendAt may be (SLUICE_SCHEDULE_HORIZON, default 30 days): scheduled mail and its payload live this much longer. */
  scheduleHorizonMs?: number;
}

export const DEFAULT_SCHEDULE_HORIZON_MS = 30 * 86_400_000;
/** A scheduled message's retry window starts at its release, up to the horizon after acceptance. */
const horizonOf = (o: TopologyOptions): number => o.scheduleHorizonMs ?? DEFAULT_SCHEDULE_HORIZON_MS;

export type StreamSpec = WithName<Partial<StreamConfig>>;
type WithName<T> = T & { name: string };
export interface ConsumerSpec {
  stream: string;
  config: Partial<ConsumerConfig> & { durable_name: string };
}
export interface KvSpec {
  name: string;
  options: Partial<KvOptions>;
  /** Scheduling: the TTL grows with the horizon, so ensureTopology raises it on a bucket that exists already. */
  growTtl?: boolean;
}
export interface ObjectStoreSpec {
  name: string;
  options: Partial<ObjectStoreOptions>;
  growTtl?: boolean;
}
export interface Topology {
  streams: StreamSpec[];
  consumers: ConsumerSpec[];
  kv: KvSpec[];
  objectStores: ObjectStoreSpec[];
}

/** The partition count cannot change after creation; it is written into the stream's description. */
export const sendStreamDescription = (partitions: number): string =>
  `Sluice per-recipient delivery queue; partitions=${partitions}`;

export const ADVISORY_STREAM = "MAIL_ADVISORIES";
export const maxDeliveriesAdvisorySubject = (stream: string): string =>
  `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.>`;

const dayMs = 86_400_000;

export function topologyFor(o: TopologyOptions): Topology {
  return { streams: streamsFor(o), consumers: consumersFor(o), kv: kvBucketsFor(o), objectStores: objectStoresFor(o) };
}

function streamsFor(o: TopologyOptions): StreamSpec[] {
  return [...mailStreams(o), ...recordStreams(o)];
}

/** Mail still to send: per-recipient work, batch jobs, held and scheduled mail. */
function mailStreams(o: TopologyOptions): StreamSpec[] {
  return [
    {
      name: STREAMS.send,
      description: sendStreamDescription(o.partitions),
      subjects: [subjects.sendAll],
      // Work queue: an acknowledged message is gone, so the stream holds only what is
      // still to deliver. Consumers are per (tier, partition) and never overlap.
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      // A full stream refuses new mail (the gateway answers 503) rather than dropping old mail.
      discard: DiscardPolicy.New,
      max_bytes: o.sendStreamBytes > 0 ? o.sendStreamBytes : -1,
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      name: STREAMS.jobs,
      description: "Sluice batch jobs awaiting fan-out",
      subjects: [subjects.jobs],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      // A paused tenant's bulk mail, off MAIL_SEND until `sluice tenants resume` puts it back
      // (issue 16). No max age: held mail is released or stays, never dropped by the stream.
      name: STREAMS.held,
      description: "Sluice: recipient messages held for a paused tenant",
      subjects: [subjects.heldAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      // A slow destination's overflow, off MAIL_SEND until its queue drains (issue 17):
      // one subject per (partition, destination), so a destination takes back only its own.
      // No max age: parked mail goes back to MAIL_SEND, where max age and expiry are checked.
      name: STREAMS.parked,
      description: "Sluice: overflow of slow destinations, parked until they can take it",
      subjects: [subjects.parkedAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      // Scheduled mail on nats-server 2.9 (no per-message TTL or delayed delivery): held
      // recipient messages per (request, slice) and due entries bucketed by second; the
      // scheduler purges what it has released. Limits retention: entries are read by
      // subject, not consumed, and anything left over ages out after the horizon.
      name: STREAMS.scheduled,
      description: "Sluice scheduled mail: held messages and due entries",
      subjects: [subjects.schedAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.New,
      max_age: nanos(horizonOf(o) + o.retry.maxAgeMs + dayMs),
      // A small slice or due second is read with direct gets (no consumer to create).
      allow_direct: true,
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
  ];
}

/** What happened and what comes back: events, dead letters, advisories, webhook work, inbound mail. */
function recordStreams(o: TopologyOptions): StreamSpec[] {
  return [
    {
      name: STREAMS.events,
      description: "Sluice status events",
      subjects: [subjects.eventsAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(o.eventsMaxAgeMs),
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      name: STREAMS.dlq,
      description: "Sluice dead letters",
      subjects: [subjects.dlqAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(o.dlqMaxAgeMs),
      // A dead letter is fetched by id with a direct last-by-subject get (protocol/io/dlq-admin.ts).
      allow_direct: true,
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      // MAX_DELIVERIES advisories are plain core-NATS messages: captured here, so that a
      // poison message is dead-lettered even if no node was listening at that moment.
      name: ADVISORY_STREAM,
      description: "Sluice: JetStream max-deliveries advisories of MAIL_SEND",
      subjects: [maxDeliveriesAdvisorySubject(STREAMS.send)],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: nanos(7 * dayMs),
      num_replicas: o.replicas,
    },
    {
      // Per-endpoint webhook work: subjects mail.webhooks.<endpoint>.<lane>, one consumer per
      // lane (protocol/io/webhooks.ts), so a dead endpoint only holds back its own lanes.
      name: STREAMS.webhooks,
      description: "Sluice webhook deliveries per endpoint and lane",
      subjects: [subjects.webhooksAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: nanos((o.webhookMaxAgeMs ?? dayMs) + 3_600_000),
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
    {
      // Raw bounces, feedback reports and auto-replies, as the inbound SMTP server received
      // them (envelope in headers). Kept like events (limits, not a work queue) so that an
      // operator can read back what came in, and a parser fix can be replayed over it.
      name: STREAMS.inbound,
      description: "Sluice inbound mail: bounces, complaints, auto-replies",
      subjects: [subjects.inbound],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: nanos(o.eventsMaxAgeMs),
      duplicate_window: nanos(o.duplicateWindowMs),
      num_replicas: o.replicas,
    },
  ];
}

export const TENANT_HEALTH_CONSUMER = "tenant_health";

function consumersFor(o: TopologyOptions): ConsumerSpec[] {
  const maxDeliver = maxDeliveriesOf(o.retry);
  const consumers: ConsumerSpec[] = [];
  for (const tier of TIERS) {
    for (let p = 0; p < o.partitions; p++) {
      consumers.push({
        stream: STREAMS.send,
        config: {
          durable_name: sendConsumerName(tier, p),
          filter_subject: subjects.send(tier, p),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(o.ackWaitMs),
          max_deliver: maxDeliver,
          // Deferred mail waits in JetStream (nak with delay) and counts against this:
          // it must exceed what one dead destination can hold, or it stalls its partition.
          max_ack_pending: o.maxAckPending,
        },
      });
    }
  }
  consumers.push(
    {
      stream: STREAMS.jobs,
      config: {
        durable_name: "fanout",
        ack_policy: AckPolicy.Explicit,
        ack_wait: nanos(60_000),
        max_deliver: 20,
        max_ack_pending: 4,
      },
    },
    {
      stream: ADVISORY_STREAM,
      config: { durable_name: "dead_letterer", ack_policy: AckPolicy.Explicit, ack_wait: nanos(30_000) },
    },
    {
      // The reputation breaker's counts (issue 16): shared by the nodes, from now on (a new
      // durable does not replay the stream's week of history into today's window).
      stream: STREAMS.events,
      config: {
        durable_name: TENANT_HEALTH_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        // All events, the others skipped by the reader: filter_subjects needs nats-server 2.10 (CI has 2.9).
        filter_subject: subjects.eventsAll,
        ack_wait: nanos(30_000),
        max_ack_pending: 10_000,
      },
    },
    {
      // The events consumer: writes the status index and queues webhook jobs. From the start
      // of the stream so that a lost bucket is rebuilt; if this durable is ever recreated,
      // endpoints get again what happened since they were registered (older than the
      // duplicate window, twice).
      stream: STREAMS.events,
      config: {
        durable_name: STATUS_INDEXER_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(30_000),
        max_ack_pending: 4096,
      },
    },
    {
      stream: STREAMS.inbound,
      config: {
        durable_name: INBOUND_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        // A message that fails this often is a parser or NATS problem, logged each time; the raw mail stays in the stream.
        max_deliver: 10,
        max_ack_pending: 256,
      },
    },
  );
  return consumers;
}

function kvBucketsFor(o: TopologyOptions): KvSpec[] {
  return [
    { name: KV_BUCKETS.keys, options: { history: 1, replicas: o.replicas } },
    { name: KV_BUCKETS.policies, options: { history: 5, replicas: o.replicas } },
    { name: KV_BUCKETS.suppressions, options: { history: 1, replicas: o.replicas } },
    { name: KV_BUCKETS.idempotency, options: { history: 1, ttl: dayMs, replicas: o.replicas } },
    { name: KV_BUCKETS.nodes, options: { history: 1, ttl: o.leaseTtlMs, replicas: o.replicas } },
    // Partition locks: one key per partition, written with compare-and-set by its owner.
    { name: KV_BUCKETS.partitions, options: { history: 1, ttl: o.leaseTtlMs, replicas: o.replicas } },
    { name: KV_BUCKETS.webhooks, options: { history: 1, replicas: o.replicas } },
    { name: KV_BUCKETS.status, options: { history: 1, ttl: horizonOf(o) + o.retry.maxAgeMs + 7 * dayMs, replicas: o.replicas }, growTtl: true },
    // Apart from sluice_status so that listing a batch's keys scans batches, not recipients.
    { name: KV_BUCKETS.batchCounts, options: { history: 1, ttl: horizonOf(o) + o.retry.maxAgeMs + 7 * dayMs, replicas: o.replicas }, growTtl: true },
    // Only messages that failed pay for this; the TTL outlives the longest retry.
    { name: KV_BUCKETS.attempts, options: { history: 1, ttl: o.retry.maxAgeMs + dayMs, replicas: o.replicas } },
    { name: KV_BUCKETS.batches, options: { history: 1, ttl: horizonOf(o) + o.retry.maxAgeMs + 7 * dayMs, replicas: o.replicas }, growTtl: true },
    // Scheduling: records (compare-and-set by cancel, reschedule and the scheduler) and the scheduler's leader lease.
    { name: KV_BUCKETS.schedules, options: { history: 1, ttl: horizonOf(o) + o.retry.maxAgeMs + 7 * dayMs, replicas: o.replicas }, growTtl: true },
    { name: KV_BUCKETS.leaders, options: { history: 1, ttl: o.leaseTtlMs, replicas: o.replicas } },
    // No TTL: a template lives until it is deleted. Versions are separate keys, never rewritten.
    { name: KV_BUCKETS.templates, options: { history: 1, replicas: o.replicas } },
    { name: KV_BUCKETS.domains, options: { history: 1, replicas: o.replicas } },
    { name: KV_BUCKETS.tenants, options: { history: 5, replicas: o.replicas } },
    // A day's counter is read for that day only; two days keep yesterday's for `tenants show`.
    { name: KV_BUCKETS.tenantCounters, options: { history: 1, ttl: 2 * dayMs, replicas: o.replicas } },
    // One key per tenant per second: useless after that second, gone a minute later.
    { name: KV_BUCKETS.tenantRates, options: { history: 1, ttl: 60_000, replicas: o.replicas } },
    // A day's warm-up counter matters that day; two days keep yesterday's for `sluice policies`.
    { name: KV_BUCKETS.warmup, options: { history: 1, ttl: 2 * dayMs, replicas: o.replicas } },
  ];
}

function objectStoresFor(o: TopologyOptions): ObjectStoreSpec[] {
  return [
    // Payloads must outlive the longest retry of any message that points at them.
    // Scheduled mail is released up to the horizon after acceptance, and retried from there.
    { name: OBJECT_STORES.payloads, options: { ttl: nanos(horizonOf(o) + o.retry.maxAgeMs + dayMs), replicas: o.replicas }, growTtl: true },
  ];
}

/** The topology options implied by a process's configuration. */
export function topologyOptionsFrom(config: {
  partitions: number;
  replicas: number;
  retry: RetryPolicy;
  ackWaitMs: number;
  maxAckPending: number;
  limits: { sendStreamBytes: number };
  retention: { duplicateWindowMs: number; eventsMs: number; dlqMs: number };
  leaseTtlMs: number;
  webhooks?: { maxAgeMs: number };
  schedule?: { horizonMs: number };
}): TopologyOptions {
  return {
    partitions: config.partitions,
    replicas: config.replicas,
    retry: config.retry,
    ackWaitMs: config.ackWaitMs,
    maxAckPending: config.maxAckPending,
    sendStreamBytes: config.limits.sendStreamBytes,
    duplicateWindowMs: config.retention.duplicateWindowMs,
    eventsMaxAgeMs: config.retention.eventsMs,
    dlqMaxAgeMs: config.retention.dlqMs,
    leaseTtlMs: config.leaseTtlMs,
    ...(config.webhooks === undefined ? {} : { webhookMaxAgeMs: config.webhooks.maxAgeMs }),
    ...(config.schedule === undefined ? {} : { scheduleHorizonMs: config.schedule.horizonMs }),
  };
}
