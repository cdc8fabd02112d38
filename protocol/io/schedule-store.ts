import { DeliverPolicy, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { AckedMessage, AckedPublisher } from "./acked-publisher.ts";
import { decode, encode } from "../codec.ts";
import { DueEntry, HeldMessage, ScheduleRecord } from "../schemas/schedule.ts";
import { scheduleKey } from "./schedule-messages.ts";
import { listKeys } from "./kv-keys.ts";
import { addVolume, emptyVolume, type ScheduledVolume } from "../schedule-volume.ts";
import { STREAMS, subjects } from "../subjects.ts";

/**
 * Scheduled mail on nats-server 2.9, which has no per-message TTL or delayed delivery: the
 * one module that knows how it is stored, so a newer server's native scheduling can replace
 * it. KV `sluice_schedules` holds a record per request (the truth: plan, state, version);
 * MAIL_SCHEDULED holds each recipient's message under `mail.sched.held.<request>.<slice>`
 * and wake-ups under `mail.sched.due.<unix second>`.
 */


/** Events published a window at a time (a batch's cancel can name 100,000 recipients). */
export const EVENT_WINDOW = 1000;
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);
export const isCasConflict = (e: unknown): boolean => e instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.has(e.code);

export interface StoredSchedule {
  record: ScheduleRecord;
  revision: number;
}

export async function readSchedule(kv: KV, tenant: string, requestId: string): Promise<StoredSchedule | undefined> {
  const e = await kv.get(scheduleKey(tenant, requestId));
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(ScheduleRecord, e.value, "schedule record");
  if (!decoded.ok || decoded.value.tenant !== tenant) return undefined;
  return { record: decoded.value, revision: e.revision };
}

/** Write the record unless one exists (a retried request keeps what the first try stored). */
export async function createSchedule(kv: KV, record: ScheduleRecord): Promise<void> {
  try {
    await kv.create(scheduleKey(record.tenant, record.requestId), encode(record));
  } catch (e) {
    if ((await readSchedule(kv, record.tenant, record.requestId)) === undefined) throw e;
  }
}

/**
 * Change a record by compare-and-set, re-reading on a conflict. `change` returns the new
 * record, or undefined to leave it (its answer is then what the caller gets back).
 */
export async function updateSchedule(
  kv: KV,
  tenant: string,
  requestId: string,
  change: (r: ScheduleRecord) => ScheduleRecord | undefined,
  /** The record as the caller last read or wrote it: the first try skips the read (a conflict reads again). */
  known?: StoredSchedule,
): Promise<{ before: ScheduleRecord; after: ScheduleRecord | undefined; revision: number } | undefined> {
  let guess = known;
  for (let tries = 0; tries < 20; tries++) {
    const stored = guess ?? (await readSchedule(kv, tenant, requestId));
    guess = undefined;
    if (stored === undefined) return undefined;
    const next = change(stored.record);
    if (next === undefined) return { before: stored.record, after: undefined, revision: stored.revision };
    try {
      const revision = await kv.update(scheduleKey(tenant, requestId), encode(next), stored.revision);
      return { before: stored.record, after: next, revision };
    } catch (e) {
      if (!isCasConflict(e)) throw e;
    }
  }
  throw new Error(`schedule record ${requestId} kept changing under 20 compare-and-set tries`);
}

/** Publish `messages` a window at a time, each window's acks awaited. */
export async function publishWindows(publisher: AckedPublisher, messages: Iterable<AckedMessage>, timeoutMs = 30_000): Promise<void> {
  let window: AckedMessage[] = [];
  for (const m of messages) {
    window.push(m);
    if (window.length >= EVENT_WINDOW) {
      await publisher.publish(window, timeoutMs);
      window = [];
    }
  }
  if (window.length > 0) await publisher.publish(window, timeoutMs);
}

export interface StoredEntry<T> {
  value: T;
  seq: number;
  headers?: MsgHdrs | undefined;
}

/**
 * Every message on one subject of MAIL_SCHEDULED, in order: direct gets (next by subject)
 * for the first few, which costs no consumer and answers "none" at once; past that, an
 * ordered consumer from the next one to the end. (A stream info with a subject filter was
 * the first way: on 2.9 it scans every subject of the stream, and held slices are many.)
 */
export async function readSubject(js: JetStreamClient, jsm: JetStreamManager, subject: string): Promise<StoredEntry<Uint8Array>[]> {
  const out: StoredEntry<Uint8Array>[] = [];
  let seq = 0;
  for (let i = 0; i <= DIRECT_READ_MAX; i++) {
    const m = await jsm.direct.getMessage(STREAMS.scheduled, { next_by_subj: subject, seq });
    if (m === null) return out;
    out.push({ value: m.data, seq: m.seq, headers: m.header });
    seq = m.seq + 1;
  }
  // More than a few: the rest with an ordered consumer (there is at least one more, so no fetch waits for nothing).
  const consumer = await js.consumers.get(STREAMS.scheduled, { filter_subjects: subject, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq });
  for (;;) {
    const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
    let pending = -1;
    for await (const m of batch) {
      out.push({ value: m.data, seq: m.seq, headers: m.headers });
      pending = m.info.pending;
      if (pending === 0) break;
    }
    if (pending <= 0) return out; // the end, or nothing came (purged meanwhile)
  }
}

/** Up to this many messages, direct gets (one round trip each) beat creating an ordered consumer. */
const DIRECT_READ_MAX = 16;

export async function readHeld(js: JetStreamClient, jsm: JetStreamManager, requestId: string, slice: number): Promise<StoredEntry<HeldMessage>[]> {
  const out: StoredEntry<HeldMessage>[] = [];
  for (const m of await readSubject(js, jsm, subjects.schedHeld(requestId, slice))) {
    const decoded = decode(HeldMessage, m.value, "held message");
    if (decoded.ok) out.push({ value: decoded.value, seq: m.seq, headers: m.headers });
  }
  return out;
}

export async function readDue(js: JetStreamClient, jsm: JetStreamManager, second: number): Promise<{ entries: StoredEntry<DueEntry>[]; lastSeq: number }> {
  const entries: StoredEntry<DueEntry>[] = [];
  let lastSeq = 0;
  for (const m of await readSubject(js, jsm, subjects.schedDue(second))) {
    lastSeq = Math.max(lastSeq, m.seq);
    const decoded = decode(DueEntry, m.value, "due entry");
    if (decoded.ok) entries.push({ value: decoded.value, seq: m.seq });
  }
  return { entries, lastSeq };
}

/** Remove what was handled: a subject's messages up to and including `lastSeq` (later arrivals stay). */
export async function purgeSubject(jsm: JetStreamManager, subject: string, lastSeq?: number): Promise<void> {
  await jsm.streams.purge(STREAMS.scheduled, lastSeq === undefined ? { filter: subject } : { filter: subject, seq: lastSeq + 1 });
}

/** What the scheduled requests (of one tenant, or all) will release in the next hours; reads every record. */
export async function readScheduledVolume(kv: KV, now: number, tenant?: string): Promise<ScheduledVolume> {
  const volume = emptyVolume(now);
  const keys = await listKeys(kv, tenant === undefined ? undefined : `${tenant}.*`);
  for (let i = 0; i < keys.length; i += 64) {
    const entries = await Promise.all(keys.slice(i, i + 64).map((k) => kv.get(k)));
    for (const e of entries) {
      if (e === null || e.operation !== "PUT") continue;
      const decoded = decode(ScheduleRecord, e.value, "schedule record");
      if (decoded.ok && (tenant === undefined || decoded.value.tenant === tenant)) addVolume(volume, decoded.value);
    }
  }
  return volume;
}
