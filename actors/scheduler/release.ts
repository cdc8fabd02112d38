import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import {
  decode,
  DeliveryMessage,
  encode,
  lastDueSlice,
  msToNextUtcDay,
  planOf,
  sliceCount,
  sliceRange,
  subjects,
  wakeTime,
  type DueEntry,
  type ScheduleRecord,
} from "../../protocol/index.ts";
import {
  dueMessage,
  publishWindows,
  purgeSubject,
  readHeld,
  readSchedule,
  recipientEvent,
  recipientEvents,
  refOf,
  updateSchedule,
  type AckedMessage,
  type AckedPublisher,
  type StoredSchedule,
} from "../../protocol/io/index.ts";
import { forwardTrace } from "../../protocol/telemetry/index.ts";
import { chargeSlice, refundSlice, type HoldQuota } from "./quota-hold.ts";

export interface ReleaseDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  schedules: KV;
  publisher: AckedPublisher;
  logger: Logger;
  now(): number;
  /** Counted per recipient handed to MAIL_SEND. */
  released(n: number): void;
  /** Where mail held over a tenant's daily quota is counted when released (./quota-hold.ts). */
  quota: HoldQuota;
}

/** A batch whose fan-out is not done yet is looked at again this much later. */
const NOT_READY_RETRY_MS = 2000;

/**
 * Act on one due entry. The record decides everything (an entry only says "look now"):
 * nothing is released before the record's plan says so, nothing after a cancel, and a
 * release is claimed on the record (`releasing`) before it starts, so a crash in the
 * middle is finished by whoever looks next, with the same msgIDs (= recipient ids) that
 * JetStream de-duplicates. Throws on NATS trouble; the entry stays and is tried again.
 */
export async function handleDue(d: ReleaseDeps, entry: DueEntry): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const stored = await readSchedule(d.schedules, entry.tenant, entry.requestId);
    if (stored === undefined) return;
    const r = stored.record;
    // A release that was claimed and not finished (a crash) is finished first, whatever came since.
    if (r.releasing !== undefined && r.releasing > r.next) {
      await finishRelease(d, stored);
      continue;
    }
    if (entry.version !== r.version || entry.slice < r.next) return; // stale: a newer entry exists
    if (r.state === "cancelled") return completeCancel(d, r);
    if (r.state === "expired") return expireRest(d, r, d.now());
    if (r.state !== "scheduled") return;
    const now = d.now();
    if (r.expiresAt !== undefined && now >= r.expiresAt) return expireRest(d, r, now);
    if (!r.ready) return repark(d, r, entry.slice, now + NOT_READY_RETRY_MS);
    const due = lastDueSlice(planOf(r), r.next, now);
    if (due < r.next) return repark(d, r, r.next, Math.max(now + 1000, wakeTime(r, r.next)));
    // A paced plan found late (the scheduler was down, the fan-out slow) catches up two
    // slices a second (about twice its pace) rather than in one burst of everything overdue.
    let last = r.deliverOverMs > 0 ? Math.min(due, r.next + 1) : due;
    // Held over the quota: one slice at a time, each counted against the day it goes out on
    // before it is claimed (a crash between the two counts it twice: never sends over the quota).
    let charged = 0;
    if (r.hold === "quota") {
      const c = await chargeSlice(d.quota, r, now);
      if (c === undefined) return repark(d, r, r.next, now + msToNextUtcDay(now));
      [last, charged] = [r.next, c];
    }
    // Claim slices next..last; if the record moved meanwhile, look again.
    const claimed = await updateSchedule(
      d.schedules,
      r.tenant,
      r.requestId,
      (cur) => (cur.version === r.version && cur.next === r.next && cur.state === "scheduled" && cur.releasing === undefined ? { ...cur, releasing: last + 1, updatedAt: now } : undefined),
      stored,
    );
    if (claimed?.after === undefined) {
      await refundSlice(d.quota, r, charged, now);
      continue;
    }
    await finishRelease(d, { record: claimed.after, revision: claimed.revision }, last < due ? now + 1000 : undefined);
    return;
  }
}

/** Publish the claimed slices [next, releasing) onto MAIL_SEND, wake up for the rest, record it done. */
async function finishRelease(d: ReleaseDeps, stored: StoredSchedule, notBefore?: number): Promise<void> {
  const r = stored.record;
  const until = r.releasing ?? r.next;
  const now = d.now();
  const cancelled = new Set(r.cancelled ?? []);
  let count = 0;
  for (let k = r.next; k < until; k++) {
    const out: AckedMessage[] = [];
    for (const held of await readHeld(d.js, d.jsm, r.requestId, k)) {
      const m = held.value.message;
      const index = refOf(m).index;
      if (cancelled.has(index)) continue;
      // The retry window (SLUICE_MAX_AGE) starts at release, not at acceptance.
      const message = decode(DeliveryMessage, encode({ ...m, createdAt: now }), "released message");
      if (!message.ok) continue;
      // The trace of the request that scheduled it goes on with it (not the held copy's own headers).
      out.push({ subject: held.value.subject, data: encode(message.value), msgID: m.id, headers: forwardTrace(held.headers) });
      out.push(recipientEvent(refOf(m), "queued", now));
    }
    await publishWindows(d.publisher, out);
    count += out.length / 2;
  }
  const total = sliceCount(planOf(r));
  // The next wake-up exists before the record says these slices are done: no gap a crash could fall into.
  if (until < total && r.state === "scheduled") {
    const at = Math.max(wakeTime(r, until), notBefore ?? 0);
    await d.publisher.publish([dueMessage({ v: 1, tenant: r.tenant, requestId: r.requestId, version: r.version, slice: until, at })], 10_000);
  }
  await updateSchedule(
    d.schedules,
    r.tenant,
    r.requestId,
    (cur) => {
      if (cur.next >= until) return undefined;
      const { releasing: _done, ...rest } = cur;
      return { ...rest, next: until, state: cur.state === "scheduled" && until >= total ? "released" : cur.state, updatedAt: now };
    },
    stored,
  );
  d.released(count);
  // Not awaited: the release is recorded; what is left of the held copies only costs storage until it ages out.
  for (let k = r.next; k < until; k++) {
    purgeSubject(d.jsm, subjects.schedHeld(r.requestId, k)).catch((e: unknown) => d.logger.warn({ err: e, requestId: r.requestId, slice: k }, "could not purge released held messages; they age out"));
  }
}

/** The recipients not yet released get `cancelled` (again, if the gateway's events were lost: same ids). */
async function completeCancel(d: ReleaseDeps, r: ScheduleRecord): Promise<void> {
  const from = sliceRange(planOf(r), r.next).from;
  await publishWindows(d.publisher, recipientEvents(r, from, r.recipients, "cancelled", d.now(), "cancelled", new Set(r.cancelled ?? [])));
  await purgeSubject(d.jsm, subjects.schedHeldOf(r.requestId)).catch(() => undefined); // they age out otherwise
}

async function expireRest(d: ReleaseDeps, r: ScheduleRecord, now: number): Promise<void> {
  // Events after the record: a crash between the two is finished when the entry is handled again (same event ids).
  const done = await updateSchedule(d.schedules, r.tenant, r.requestId, (cur) => (cur.state === "scheduled" && cur.releasing === undefined ? { ...cur, state: "expired", updatedAt: now } : undefined));
  if ((done?.after ?? done?.before)?.state !== "expired") return;
  const from = sliceRange(planOf(r), r.next).from;
  await publishWindows(d.publisher, recipientEvents(r, from, r.recipients, "expired", now, "expires_at", new Set(r.cancelled ?? [])));
  await purgeSubject(d.jsm, subjects.schedHeldOf(r.requestId)).catch(() => undefined); // they age out otherwise
}

/** Look again at `at` (the fan-out is not done, or an early or re-timed entry). */
async function repark(d: ReleaseDeps, r: ScheduleRecord, slice: number, at: number): Promise<void> {
  await d.publisher.publish([dueMessage({ v: 1, tenant: r.tenant, requestId: r.requestId, version: r.version, slice, at })], 10_000);
}
