import { z } from "zod";
import { decode, encode } from "./codec.ts";
import { RECIPIENT_ID_PATTERN } from "./ids.ts";
import { SmtpReply, type MailEvent } from "./schemas/event.ts";
import { EVENT_TYPES } from "./subjects.ts";

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
  // Tenants: accepted over the daily quota (onQuota "hold"), waiting for the next UTC day.
  "held",
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
    async: z.boolean().optional(),
  })
  .strict();
export type StatusEvent = z.infer<typeof StatusEvent>;

/** `to` and `tags` (from the events) make the index searchable: GET /v1/messages?to=&tag=, batch recipient pages. */
export const RecipientRecord = z
  .object({ status: z.enum(MESSAGE_STATUSES), to: z.string().optional(), tags: z.array(z.string()).optional(), events: z.array(StatusEvent) })
  .strict();
export type RecipientRecord = z.infer<typeof RecipientRecord>;
export const RequestRecord = z.object({ recipients: z.number().int().nonnegative(), accepted: StatusEvent }).strict();
export type RequestRecord = z.infer<typeof RequestRecord>;

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
  if (e.async !== undefined) out.async = e.async;
  return out;
}

/**
 * The status after an event. The latest event wins, except that `dead_lettered` after a
 * bounce or failure keeps the cause as the status (the dead letter is in the events). What
 * comes back after delivery: an asynchronous `bounced` wins over `delivered` like any later
 * event; a soft bounce, complaint, auto-reply or unsubscribe is about a delivered message
 * and leaves its status as it is.
 */
export function nextStatus(current: MessageStatus | undefined, type: MailEvent["type"]): MessageStatus {
  if (type === "accepted") return current ?? "queued";
  if (type === "soft_bounced" || type === "complained" || type === "auto_replied" || type === "unsubscribed") return current ?? "delivered";
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
  soft_bounced: 5,
  complained: 5,
  auto_replied: 5,
  unsubscribed: 5,
  // Scheduling: scheduled comes before its release (queued); cancel and expiry end it.
  scheduled: 0,
  cancelled: 3,
  expired: 3,
  held: 0,
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
  const next: RecipientRecord = { status, events };
  const to = record.to ?? event.rcptTo;
  const tags = record.tags ?? event.tags;
  if (to !== undefined) next.to = to;
  if (tags !== undefined) next.tags = tags;
  return { key: statusKey(event.tenant, event.messageId), value: encode(next), previous, status };
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
