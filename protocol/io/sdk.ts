import { jetstream, JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { AckedPublisher, PublishRefusedError } from "./acked-publisher.ts";
import { encode } from "../codec.ts";
import { isSluiceError, temporaryError, validationError, type SluiceError, errorMessage } from "../errors.ts";
import { publishEvent } from "./events.ts";
import { ID_PATTERN, newId } from "../ids.ts";
import { checkBatchFits, checkEncodedSize, NATS_HEADER_ROOM } from "../message-size.ts";
import { payloadBytes } from "../payload-store.ts";
import { storePayload, storePayloadBytes } from "./payload-store.ts";
import {
  acceptedEvent,
  buildBatchJob,
  buildDeliveries,
  envelopeRecipients,
  parseBatchRequest,
  parseSendRequest,
  payloadOfBatch,
  payloadOfSend,
  type BatchAccepted,
  type BatchProgress,
  type BatchRequest,
  type SendAccepted,
  type SendRequest,
} from "../requests.ts";
import { Tenant } from "../schemas/delivery.ts";
import { traceHeaders } from "../telemetry/propagation.ts";
import type { PayloadPointer } from "../schemas/payload.ts";
import { KV_BUCKETS, OBJECT_STORES, subjects } from "../subjects.ts";
import { VerifiedSenders } from "./domains-store.ts";
import { resolveTiming } from "../schedule-request.ts";
import { publishScheduledSend, scheduleBatch } from "./schedule-publish.ts";
import { DEFAULT_SCHEDULE_HORIZON_MS } from "./topology.ts";

/**
 * Accepting mail = storing it durably on JetStream. The gateway and direct producers
 * (the SDK below) both go through `publishSend` / `publishBatch`, so the two paths put
 * byte-for-byte the same kind of message on MAIL_SEND.
 */
export interface ProducerDeps {
  js: JetStreamClient;
  payloads: ObjectStore;
  batches: KV;
  partitions: number;
  /** A payload used by one recipient rides inline in its message when at most this big. */
  inlinePayloadMaxBytes: number;
  /**
   * Publishes a request's messages and its accepted event as one group with counted acks
   * (protocol/io/acked-publisher.ts), which costs less than a `js.publish` each. Without it,
   * `js.publish` per message. Either way the answer waits for every ack.
   */
  publisher?: AckedPublisher;
  /**
   * The server's max_payload (the connection's `info.max_payload`), read per request: a
   * message over it is refused as 413 message_too_large before anything is published.
   */
  maxPayload?: () => number | undefined;
  /** How long the publisher waits for the acks (the js client's own timeout otherwise). */
  publishTimeoutMs?: number;
  now?: () => number;
  /** Scheduling: KV sluice_schedules (needed to accept sendAt / pacing) and how far ahead sendAt may be. */
  schedules?: KV;
  scheduleHorizonMs?: number;
}

/**
 * How a request is accepted besides its own fields: `holdUntil` = over its tenant's daily
 * quota with onQuota "hold", held (on the scheduler's path) until then, the quota's renewal.
 */
export interface AcceptOptions {
  holdUntil?: number | undefined;
}

/** Store the payload (or inline it), publish one message per recipient concurrently, and the accepted event. */
export async function publishSend(d: ProducerDeps, tenant: string, r: SendRequest, requestId: string = newId(), o: AcceptOptions = {}): Promise<SendAccepted> {
  const now = d.now?.() ?? Date.now();
  const payload = payloadOfSend(r);
  const rcpts = envelopeRecipients(r);
  const timing = resolveTiming(r, now, d.scheduleHorizonMs ?? DEFAULT_SCHEDULE_HORIZON_MS, o.holdUntil);
  // Metadata alone over the limit is refused before the payload is written to the store.
  if (r.metadata !== undefined) checkEncodedSize(encode(r.metadata), d.maxPayload?.(), "its metadata", "metadata");
  try {
    let pointer: PayloadPointer;
    // Its size only decides inlining: key order does not change it, so the canonical
    // (sorted, hashable) bytes are built only for a payload that goes to the store.
    // Never inline what would push the message over max_payload (SLUICE_INLINE_PAYLOAD_MAX
    // is a setting; the server's limit is not ours to exceed): it goes to the store instead.
    const inlineMax = Math.min(d.inlinePayloadMaxBytes, (d.maxPayload?.() ?? Infinity) / 2);
    if (rcpts.length === 1 && Buffer.byteLength(JSON.stringify(payload)) <= inlineMax) {
      pointer = { inline: payload };
    } else {
      const stored = await storePayloadBytes(d.payloads, payloadBytes(payload));
      pointer = { ref: stored.ref, size: stored.size };
    }
    const out = buildDeliveries(r, pointer, { requestId, tenant, partitions: d.partitions, now, expiresAt: timing.expiresAt });
    const encoded = out.map((o) => encode(o.message));
    checkSendFits(r, encoded, d.maxPayload?.());
    const event = acceptedEvent({ tenant, requestId, tier: r.tier, recipients: out.length, now });
    // The caller's trace (the gateway's request span) rides along to the delivering node.
    const trace = traceHeaders();
    if (timing.plan !== undefined) {
      // Scheduled (protocol/schedule-publish.ts): held on MAIL_SCHEDULED until the scheduler releases it.
      const accepted = { subject: subjects.event(event.tenant, event.type), data: encode(event), msgID: event.id };
      await publishScheduledSend(d, { tenant, requestId, messages: out, timing: { ...timing, plan: timing.plan }, now, trace, accepted });
    } else if (d.publisher) {
      await d.publisher.publish(
        [
          ...out.map((o, i) => ({ subject: o.subject, data: encoded[i] ?? encode(o.message), msgID: o.msgID, headers: trace })),
          { subject: subjects.event(event.tenant, event.type), data: encode(event), msgID: event.id }, // = publishEvent
        ],
        d.publishTimeoutMs ?? 5000,
      );
    } else {
      await Promise.all([
        ...out.map((o, i) => d.js.publish(o.subject, encoded[i] ?? encode(o.message), { msgID: o.msgID, headers: trace })),
        publishEvent(d.js, event),
      ]);
    }
    return { id: requestId, recipients: out.map((o) => ({ to: o.message.rcptTo, id: o.message.id })) };
  } catch (e) {
    throw publishFailure(e);
  }
}

/**
 * A batch is two object-store objects (payload and recipient list, both by content hash,
 * so a re-sent one is not stored again), its progress record, one job on MAIL_JOBS and one
 * accepted event. The fan-out actor does the per-recipient work.
 */
export async function publishBatch(d: ProducerDeps, tenant: string, r: BatchRequest, batchId: string = newId(), extra: { missingVars?: number } & AcceptOptions = {}): Promise<BatchAccepted> {
  const now = d.now?.() ?? Date.now();
  checkBatchSizes(r, batchId, tenant, now, d.maxPayload?.());
  const timing = resolveTiming(r, now, d.scheduleHorizonMs ?? DEFAULT_SCHEDULE_HORIZON_MS, extra.holdUntil);
  try {
    const [payload, list] = await Promise.all([
      storePayload(d.payloads, payloadOfBatch(r)),
      storePayloadBytes(d.payloads, Buffer.from(JSON.stringify(r.recipients))),
    ]);
    const job = buildBatchJob(r, payload, list.ref, { batchId, tenant, requestId: batchId, now, expiresAt: timing.expiresAt, schedule: timing.plan === undefined ? undefined : { ...timing.plan, ...(timing.hold === undefined ? {} : { hold: timing.hold }) } });
    const progress: BatchProgress = { v: 1, batchId, tenant, total: r.recipients.length, expanded: 0, state: "queued", createdAt: now, updatedAt: now };
    if (extra.missingVars) progress.missingVars = extra.missingVars;
    progress.recipientsRef = list.ref;
    await createOnce(d.batches, batchId, encode(progress));
    // Scheduled or paced: its record exists before the fan-out can see the job (protocol/schedule-publish.ts).
    if (timing.plan !== undefined) await scheduleBatch(d, { tenant, batchId, recipients: r.recipients.length, timing: { ...timing, plan: timing.plan }, now });
    const event = acceptedEvent({ tenant, requestId: batchId, batchId, tier: r.tier, recipients: r.recipients.length, now });
    await Promise.all([d.js.publish(subjects.jobs, encode(job), { msgID: batchId, headers: traceHeaders() }), publishEvent(d.js, event)]);
    return { batchId, accepted: r.recipients.length };
  } catch (e) {
    throw publishFailure(e);
  }
}

/** Each recipient's message must fit max_payload; when metadata is what makes it too big, say so. */
function checkSendFits(r: SendRequest, encoded: Uint8Array[], maxPayload: number | undefined): void {
  if (maxPayload === undefined) return;
  const metadataBytes = r.metadata === undefined ? 0 : Buffer.byteLength(JSON.stringify(r.metadata));
  for (const data of encoded) {
    const field = r.metadata !== undefined && data.length - metadataBytes + NATS_HEADER_ROOM <= maxPayload ? "metadata" : undefined;
    checkEncodedSize(data, maxPayload, "each recipient's message", field);
  }
}

/** The job message and every message fan-out will build from it must fit max_payload. */
function checkBatchSizes(r: BatchRequest, batchId: string, tenant: string, now: number, maxPayload: number | undefined): void {
  if (maxPayload === undefined) return;
  const placeholder = `sha256-${"0".repeat(64)}`; // a ref is always this long
  const job = buildBatchJob(r, { ref: placeholder, size: Number.MAX_SAFE_INTEGER }, placeholder, { batchId, tenant, requestId: batchId, now });
  checkEncodedSize(encode(job), maxPayload, "the batch job", r.metadata === undefined ? undefined : "metadata");
  checkBatchFits(r, job, maxPayload);
}

/**
 * Write a record unless it exists: a retried batch (same id, after a 503) must not reset
 * the progress the fan-out actor may already have made.
 */
async function createOnce(kv: KV, key: string, value: Uint8Array): Promise<void> {
  try {
    await kv.create(key, value);
  } catch (e) {
    const existing = await kv.get(key);
    if (existing === null || existing.operation !== "PUT") throw e;
  }
}

/**
 * Why a write did not become durable, as a temporary error: `stream_full` (the stream
 * refused it: discard-new at its limit) or `nats_unavailable` (disconnected, timed out,
 * no JetStream). Either way the caller must not consider the mail accepted.
 */
export function publishFailure(e: unknown): SluiceError {
  if (isSluiceError(e)) return e;
  const message = errorMessage(e);
  if ((e instanceof JetStreamApiError || e instanceof PublishRefusedError) && /maximum|exceeded|insufficient|resources|storage/i.test(message)) {
    return temporaryError("stream_full", `JetStream refused the write (${message}); retry later`, e);
  }
  return temporaryError("nats_unavailable", `NATS JetStream is unavailable (${message}); retry later`, e);
}

/**
 * What Idempotency-Key is over HTTP: a retry of a send that failed (a temporary error can
 * come after JetStream stored the messages, their acks lost in a failover) passes the
 * `requestId` of its first try (make one with `newId()`), so the recipient ids — the
 * JetStream msgIDs — repeat and JetStream stores nothing twice within the stream's
 * duplicate window (SLUICE_DUPLICATE_WINDOW). For a batch it is the batch id.
 */
export interface SendOptions {
  requestId?: string;
}

export interface Producer {
  /** Validate like POST /v1/messages and publish; throws a validation SluiceError naming the field. */
  send(request: unknown, options?: SendOptions): Promise<SendAccepted>;
  /** Validate like POST /v1/batches and publish. */
  sendBatch(request: unknown, options?: SendOptions): Promise<BatchAccepted>;
}

function requestIdOf(options: SendOptions | undefined): string {
  if (options?.requestId === undefined) return newId();
  if (!ID_PATTERN.test(options.requestId)) throw validationError("invalid_request_id", "requestId must be an id made by newId() (26 characters, 0-9 and a-z)", "requestId");
  return options.requestId;
}

/**
 * The producer SDK for services inside the network: the same validation and the same
 * messages as the HTTP gateway, without HTTP. `partitions` must match SLUICE_PARTITIONS.
 */
export async function createProducer(
  nc: NatsConnection,
  opts: {
    tenant: string;
    partitions: number;
    inlinePayloadMaxBytes?: number;
    /** SLUICE_REQUIRE_VERIFIED_DOMAINS: refuse a `from` domain the tenant has not verified (domain_not_verified), as the gateway does. */
    requireVerifiedDomains?: boolean;
  },
): Promise<Producer> {
  if (!Tenant.safeParse(opts.tenant).success) throw validationError("invalid_tenant", `tenant ${JSON.stringify(opts.tenant)} is not a tenant name`, "tenant");
  const deps: ProducerDeps = {
    js: jetstream(nc),
    publisher: new AckedPublisher(nc),
    payloads: await new Objm(nc).open(OBJECT_STORES.payloads),
    batches: await new Kvm(nc).open(KV_BUCKETS.batches),
    schedules: await new Kvm(nc).open(KV_BUCKETS.schedules),
    partitions: opts.partitions,
    inlinePayloadMaxBytes: opts.inlinePayloadMaxBytes ?? 16 * 1024, // = SLUICE_INLINE_PAYLOAD_MAX default
    maxPayload: () => nc.info?.max_payload,
  };
  const domainsKv = opts.requireVerifiedDomains === true ? await new Kvm(nc).open(KV_BUCKETS.domains) : undefined;
  const senders = domainsKv === undefined ? undefined : new VerifiedSenders(async () => domainsKv);
  return {
    send: async (request, options) => {
      const parsed = parseSendRequest(request);
      if (!parsed.ok) throw parsed.error;
      await senders?.check(opts.tenant, parsed.value.from.address);
      return publishSend(deps, opts.tenant, parsed.value, requestIdOf(options));
    },
    sendBatch: async (request, options) => {
      const parsed = parseBatchRequest(request);
      if (!parsed.ok) throw parsed.error;
      await senders?.check(opts.tenant, parsed.value.from.address);
      return publishBatch(deps, opts.tenant, parsed.value, requestIdOf(options));
    },
  };
}
