import { DiscardPolicy, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { decode, encode } from "./codec.ts";
import { listKeys } from "./kv-keys.ts";
import { RECIPIENT_ID_PATTERN } from "./ids.ts";
import { SmtpReply, type MailEvent } from "./schemas/event.ts";
import { EVENT_TYPES, KV_BUCKETS } from "./subjects.ts";

/**
 * The message status index in KV `sluice_status`, written by the status indexer from
 * MAIL_EVENTS and read by `GET /v1/messages/{id}`.
 *
 * Keys:
 *  - `<tenant>.<recipient id>` → the recipient's status and its last STATUS_EVENTS events;
 *  - `<tenant>.<request id>`   → the request's `accepted` event and recipient count. The gateway
 *    publishes one `accepted` per request, not per recipient: a recipient with no record of
 *    its own but an accepted request is `queued`.
 * Values are compact (no ids the key already says, reply text cut short): the index is
 * bounded by entries and bytes, see docs/architecture.md for what it costs.
 */
export const STATUS_EVENTS = 10;
const REPLY_TEXT_MAX = 160;

export const MESSAGE_STATUSES = [
  "queued",
  "deferred",
  "delivered",
  "bounced",
  "failed",
  "suppressed",
  "dead_lettered",
  // Scheduling: waiting for its sendAt; terminal: cancelled before release, or not delivered by expiresAt.
  "scheduled",
  "cancelled",
  "expired",
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** One event as the status answer shows it. */
export const StatusEvent = z
  .object({
    type: z.enum(EVENT_TYPES),
    at: z.number().int(),
    attempt: z.number().int().optional(),
    mx: z.string().optional(),
    reply: SmtpReply.optional(),
    category: z.string().optional(),
    reason: z.string().optional(),
    nextAttemptAt: z.number().int().optional(),
  })
  .strict();
export type StatusEvent = z.infer<typeof StatusEvent>;

const RecipientRecord = z.object({ status: z.enum(MESSAGE_STATUSES), events: z.array(StatusEvent) }).strict();
type RecipientRecord = z.infer<typeof RecipientRecord>;
const RequestRecord = z.object({ recipients: z.number().int().nonnegative(), accepted: StatusEvent }).strict();
type RequestRecord = z.infer<typeof RequestRecord>;

export interface MessageStatusAnswer {
  id: string;
  status: MessageStatus;
  events: StatusEvent[];
}

export const statusKey = (tenant: string, id: string): string => `${tenant}.${id}`;

/** The request (or batch) a recipient id belongs to: `<request id>-<index>`. */
export function requestOf(recipientId: string): { requestId: string; index: number } | undefined {
  if (!RECIPIENT_ID_PATTERN.test(recipientId)) return undefined;
  const dash = recipientId.lastIndexOf("-");
  return { requestId: recipientId.slice(0, dash), index: Number(recipientId.slice(dash + 1)) };
}

export function compactEvent(e: MailEvent): StatusEvent {
  const out: StatusEvent = { type: e.type, at: e.at };
  if (e.attempt !== undefined) out.attempt = e.attempt;
  if (e.mx !== undefined) out.mx = e.mx;
  if (e.reply !== undefined) {
    out.reply = { code: e.reply.code, text: e.reply.text.length > REPLY_TEXT_MAX ? `${e.reply.text.slice(0, REPLY_TEXT_MAX - 1)}…` : e.reply.text };
    if (e.reply.enhanced !== undefined) out.reply.enhanced = e.reply.enhanced;
  }
  if (e.category !== undefined) out.category = e.category;
  if (e.reason !== undefined) out.reason = e.reason.slice(0, REPLY_TEXT_MAX);
  if (e.nextAttemptAt !== undefined) out.nextAttemptAt = e.nextAttemptAt;
  return out;
}

/**
 * The status after an event. The latest event wins, except that `dead_lettered` after a
 * bounce or failure keeps the cause as the status (the dead letter is in the events).
 */
export function nextStatus(current: MessageStatus | undefined, type: MailEvent["type"]): MessageStatus {
  if (type === "accepted") return current ?? "queued";
  if (type === "dead_lettered" && (current === "bounced" || current === "failed")) return current;
  return type;
}

/** Same millisecond (one process publishing "bounced" then "dead_lettered"): attempt, then lifecycle order. */
const RANK: Record<MailEvent["type"], number> = {
  accepted: 0,
  queued: 1,
  deferred: 2,
  delivered: 3,
  bounced: 3,
  failed: 3,
  suppressed: 3,
  dead_lettered: 4,
  // Scheduling: scheduled comes before its release (queued); cancel and expiry end it.
  scheduled: 0,
  cancelled: 3,
  expired: 3,
};
const inTimeOrder = (a: StatusEvent, b: StatusEvent): number => a.at - b.at || (a.attempt ?? 0) - (b.attempt ?? 0) || RANK[a.type] - RANK[b.type];

/**
 * Where an event goes in the index, and what it writes there given what is there. For a
 * recipient's event it also says the recipient's status before (undefined: no record yet)
 * and after, which the indexer counts per batch.
 */
export function applyEvent(
  existing: Uint8Array | undefined,
  event: MailEvent,
): { key: string; value: Uint8Array; previous?: MessageStatus | undefined; status?: MessageStatus } {
  if (event.type === "accepted") {
    const requestId = event.batchId ?? event.requestId ?? requestOf(event.messageId)?.requestId ?? event.messageId;
    const record: RequestRecord = { recipients: Number(event.metadata?.recipients ?? 1) || 1, accepted: compactEvent(event) };
    return { key: statusKey(event.tenant, requestId), value: encode(record) };
  }
  let record: RecipientRecord = { status: "queued", events: [] };
  let previous: MessageStatus | undefined;
  if (existing !== undefined) {
    const decoded = decode(RecipientRecord, existing, "status record");
    if (decoded.ok) {
      record = decoded.value;
      previous = record.status;
    }
  }
  // Events may be applied out of order (several indexers, redeliveries): the status is
  // the fold over the events in time order, not the last one applied.
  const events = [...record.events, compactEvent(event)].sort(inTimeOrder).slice(-STATUS_EVENTS);
  const status = events.reduce<MessageStatus | undefined>((s, e) => nextStatus(s, e.type), undefined) ?? "queued";
  return { key: statusKey(event.tenant, event.messageId), value: encode({ status, events }), previous, status };
}

/**
 * Per-batch status counts, in KV `sluice_batch_counts`. Each indexer process keeps the
 * running totals of the transitions it wrote (a recipient moving from one status to
 * another) under a key of its own, `<tenant>.<batch id>.counts.<writer>`, so no two
 * processes ever write one key; a reader lists the batch's keys and sums them (a bucket of
 * its own, so that listing scans batches, not every recipient of the status index). A
 * recipient is counted under its current status; those with no record yet are still queued.
 */
export const BatchCounts = z.object({ counts: z.partialRecord(z.enum(MESSAGE_STATUSES), z.number().int()) }).strict();
export type BatchCounts = z.infer<typeof BatchCounts>;
export type StatusCounts = Record<MessageStatus, number>;

export const batchCountsKey = (tenant: string, batchId: string, writer: string): string => `${tenant}.${batchId}.counts.${writer}`;

/** The batch's recipients per status (`kv`: sluice_batch_counts); `total` recipients in all, those not yet indexed counted as queued. */
export async function readBatchCounts(kv: KV, tenant: string, batchId: string, total: number): Promise<StatusCounts> {
  const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as StatusCounts;
  const keys = await listKeys(kv, `${tenant}.${batchId}.counts.*`);
  const entries = await Promise.all(keys.map((k) => kv.get(k)));
  for (const e of entries) {
    if (e === null || e.operation !== "PUT") continue;
    const decoded = decode(BatchCounts, e.value, "batch counts");
    if (!decoded.ok) continue;
    for (const [status, n] of Object.entries(decoded.value.counts) as [MessageStatus, number][]) counts[status] += n;
  }
  // A transition out of "queued" was counted as -1 there; recipients never indexed are queued too.
  let indexed = 0;
  for (const s of MESSAGE_STATUSES) if (s !== "queued") indexed += Math.max(0, counts[s]);
  counts.queued = Math.max(0, total - indexed);
  return counts;
}

/** `GET /v1/messages/{id}`: the recipient's record, or `queued` if only its request is known. */
export async function readMessageStatus(kv: KV, tenant: string, id: string): Promise<MessageStatusAnswer | undefined> {
  const req = requestOf(id);
  if (req === undefined) return undefined;
  const [own, request] = await Promise.all([kv.get(statusKey(tenant, id)), kv.get(statusKey(tenant, req.requestId))]);
  let accepted: RequestRecord | undefined;
  if (request !== null && request.operation === "PUT") {
    const decoded = decode(RequestRecord, request.value, "status request record");
    if (decoded.ok) accepted = decoded.value;
  }
  if (own !== null && own.operation === "PUT") {
    const decoded = decode(RecipientRecord, own.value, "status record");
    if (decoded.ok) {
      const events = accepted && decoded.value.events.length < STATUS_EVENTS ? [accepted.accepted, ...decoded.value.events] : decoded.value.events;
      return { id, status: decoded.value.status, events };
    }
  }
  if (accepted !== undefined && req.index < accepted.recipients) return { id, status: "queued", events: [accepted.accepted] };
  return undefined;
}

/**
 * Bound the index: at most `maxEntries` keys and `maxBytes`, the least recently updated
 * going first (discard old). The KV client creates buckets with discard-new, which would
 * stop the indexer when full; this turns the bucket into a bounded, self-evicting cache.
 */
export async function applyStatusLimits(jsm: JetStreamManager, limits: { maxEntries: number; maxBytes: number }): Promise<void> {
  const name = `KV_${KV_BUCKETS.status}`;
  const info = await jsm.streams.info(name);
  const c = info.config;
  if (c.max_msgs === limits.maxEntries && c.max_bytes === limits.maxBytes && c.discard === DiscardPolicy.Old) return;
  await jsm.streams.update(name, { max_msgs: limits.maxEntries, max_bytes: limits.maxBytes, discard: DiscardPolicy.Old });
}
