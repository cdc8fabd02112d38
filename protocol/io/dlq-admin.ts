import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { decode, encode } from "../codec.ts";
import { validationError } from "../errors.ts";
import { messageEvent } from "../events.ts";
import { publishEvent } from "./events.ts";
import { RECIPIENT_ID_PATTERN } from "../ids.ts";
import { deliverySubject } from "../requests.ts";
import { InvalidDeadLetter, rawOf, UNREADABLE_ID_PATTERN } from "../dead-letters.ts";
import type { DeliveryMessage } from "../schemas/delivery.ts";
import { DeadLetter } from "../schemas/event.ts";
import { STREAMS, subjects } from "../subjects.ts";

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

/**
 * A record on MAIL_DLQ that is not a dead letter this code can read (an older format, a
 * record written by hand, a corrupted one): shown raw with the reason it could not be read.
 */
export interface UnreadableDeadLetterView {
  id: string;
  tenant: string;
  unreadable: true;
  reason: { code: "unreadable"; message: string };
  subject: string;
  /** The record as JSON when it is JSON, else its bytes. */
  record: unknown;
}

/** What every DLQ view (API, CLI) shows for one record. */
export type DeadLetterView = DeadLetter | InvalidDeadLetter | UnreadableDeadLetterView;

export interface StoredDeadLetter {
  /** Stream sequence: the listing cursor. */
  seq: number;
  /** The record as it is shown; every record on the stream has one. */
  view: DeadLetterView;
  /** Present when the record is a dead letter with its message: only those can be replayed. */
  deadLetter?: DeadLetter;
}

export interface DeadLetterPage {
  deadLetters: StoredDeadLetter[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: number;
}

// Never skip a record: a dead letter nobody can see is a message lost (issue 11).
function decodeStored(m: StoredMsg): StoredDeadLetter {
  const decoded = decode(DeadLetter, m.data, "dead letter");
  if (decoded.ok) return { seq: m.seq, view: decoded.value, deadLetter: decoded.value };
  const invalid = decode(InvalidDeadLetter, m.data, "dead letter");
  if (invalid.ok) return { seq: m.seq, view: invalid.value };
  const [, , tenant = "", ...rest] = m.subject.split(".");
  let record: unknown;
  try {
    record = JSON.parse(Buffer.from(m.data).toString("utf8"));
  } catch {
    record = rawOf(m.data);
  }
  return { seq: m.seq, view: { id: rest.join("."), tenant, unreadable: true, reason: { code: "unreadable", message: decoded.error.message }, subject: m.subject, record } };
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
    out.push(decodeStored(m));
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
 * retry window, no attempts, the next replay generation so that its events, attempt
 * history and dead letter are new ones and not duplicates of the first series'), then
 * delete the dead letters of that id up to this one's sequence: never a newer one, which
 * a fast failure of the replayed message may already have written. The publish is
 * de-duplicated on the dead letter's sequence: a replay retried after a crash sends once.
 */
export async function replayDeadLetter(deps: DlqDeps, tenant: string, id: string, now = Date.now()): Promise<DeadLetter | undefined> {
  const stored = await getDeadLetter(deps, tenant, id);
  if (stored === undefined) return undefined;
  if (stored.deadLetter === undefined) {
    throw validationError("not_replayable", `the dead letter of ${id} holds no readable message (reason ${stored.view.reason.code}); fix it at its producer and send it again`, "id");
  }
  const dl = stored.deadLetter;
  const message: DeliveryMessage = { ...dl.message, createdAt: now, attempts: [], replay: (dl.message.replay ?? 0) + 1 };
  await deps.js.publish(deliverySubject(message.tier, message.rcptTo, deps.partitions), encode(message), {
    msgID: `${message.id}.replay.${stored.seq}`,
  });
  await publishEvent(deps.js, { ...messageEvent(message, "queued", now), reason: "replayed from the dead-letter queue" });
  // Purge with a sequence removes messages below it only.
  await deps.jsm.streams.purge(STREAMS.dlq, { filter: subjects.dlq(tenant, id), seq: stored.seq + 1 });
  return dl;
}

/** A recipient id (or `seq-<n>` of an unreadable message) goes into a subject: refuse anything that could widen it. */
function checkedId(id: string): string {
  if (!RECIPIENT_ID_PATTERN.test(id) && !UNREADABLE_ID_PATTERN.test(id)) throw validationError("invalid_id", `"${id}" is not a recipient id`, "id");
  return id;
}
