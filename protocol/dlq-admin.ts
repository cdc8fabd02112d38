import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { decode, encode } from "./codec.ts";
import { validationError } from "./errors.ts";
import { eventId, publishEvent } from "./events.ts";
import { RECIPIENT_ID_PATTERN } from "./ids.ts";
import { deliverySubject } from "./requests.ts";
import { DeadLetter } from "./schemas/event.ts";
import { STREAMS, subjects } from "./subjects.ts";

/**
 * Reading and acting on dead letters, shared by the HTTP gateway and `sluice dlq`.
 * A dead letter's subject ends in its recipient id, so one is found with a direct
 * "last message on subject" get (the stream has allow_direct), never by scanning.
 */
export interface DlqDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** MAIL_SEND partition count, to route a replayed message like the gateway does. */
  partitions: number;
}

export interface StoredDeadLetter {
  /** Stream sequence: the listing cursor. */
  seq: number;
  deadLetter: DeadLetter;
}

export interface DeadLetterPage {
  deadLetters: StoredDeadLetter[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: number;
}

function decodeStored(m: StoredMsg): StoredDeadLetter | undefined {
  const decoded = decode(DeadLetter, m.data, "dead letter");
  return decoded.ok ? { seq: m.seq, deadLetter: decoded.value } : undefined;
}

/**
 * One page of a tenant's dead letters, oldest first, starting after stream sequence
 * `after`. One direct get per dead letter: admin traffic, bounded by `limit`.
 */
export async function listDeadLetters(deps: DlqDeps, tenant: string, opts: { limit?: number; after?: number } = {}): Promise<DeadLetterPage> {
  const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
  const out: StoredDeadLetter[] = [];
  let seq = (opts.after ?? 0) + 1;
  for (;;) {
    const m = await deps.jsm.direct.getMessage(STREAMS.dlq, { seq, next_by_subj: subjects.dlqOf(tenant) });
    if (m === null) return { deadLetters: out };
    seq = m.seq + 1;
    const stored = decodeStored(m);
    if (stored !== undefined) out.push(stored);
    if (out.length >= limit) return { deadLetters: out, next: m.seq };
  }
}

/** The latest dead letter of one recipient id, or undefined. */
export async function getDeadLetter(deps: DlqDeps, tenant: string, id: string): Promise<StoredDeadLetter | undefined> {
  const m = await deps.jsm.direct.getMessage(STREAMS.dlq, { last_by_subj: subjects.dlq(tenant, checkedId(id)) });
  return m === null ? undefined : decodeStored(m);
}

/** Remove every dead letter of one recipient id; false when there was none. */
export async function deleteDeadLetter(deps: DlqDeps, tenant: string, id: string): Promise<boolean> {
  const r = await deps.jsm.streams.purge(STREAMS.dlq, { filter: subjects.dlq(tenant, checkedId(id)) });
  return r.purged > 0;
}

/** Remove every dead letter of a tenant; the number removed. */
export async function purgeDeadLetters(deps: DlqDeps, tenant: string): Promise<number> {
  const r = await deps.jsm.streams.purge(STREAMS.dlq, { filter: subjects.dlqOf(tenant) });
  return r.purged;
}

/**
 * Put a dead letter's message back on MAIL_SEND as new (fresh createdAt so it gets a full
 * retry window, no attempts), then delete the dead letter. The publish is de-duplicated on
 * the dead letter's sequence: a replay retried after a crash does not send twice.
 */
export async function replayDeadLetter(deps: DlqDeps, tenant: string, id: string, now = Date.now()): Promise<StoredDeadLetter | undefined> {
  const stored = await getDeadLetter(deps, tenant, id);
  if (stored === undefined) return undefined;
  const message = { ...stored.deadLetter.message, createdAt: now, attempts: [] };
  await deps.js.publish(deliverySubject(message.tier, message.rcptTo, deps.partitions), encode(message), {
    msgID: `${message.id}.replay.${stored.seq}`,
  });
  await publishEvent(deps.js, {
    v: 1,
    id: eventId(message.id, "queued", stored.seq),
    type: "queued",
    tenant,
    messageId: message.id,
    requestId: message.requestId,
    ...(message.batchId === undefined ? {} : { batchId: message.batchId }),
    tier: message.tier,
    rcptTo: message.rcptTo,
    at: now,
    reason: "replayed from the dead-letter queue",
  });
  await deleteDeadLetter(deps, tenant, id);
  return stored;
}

/** A recipient id goes into a subject: refuse anything that could widen it. */
function checkedId(id: string): string {
  if (!RECIPIENT_ID_PATTERN.test(id)) throw validationError("invalid_id", `"${id}" is not a recipient id`, "id");
  return id;
}
