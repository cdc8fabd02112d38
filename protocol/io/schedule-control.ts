import type { KV } from "@nats-io/kv";
import type { AckedPublisher } from "./acked-publisher.ts";
import { validationError } from "../errors.ts";
import { sliceRange } from "../schedule-plan.ts";
import { planOf, wakeTime } from "../schedule-record.ts";
import { dueMessage, recipientEvents, scheduleKey } from "./schedule-messages.ts";
import { isCasConflict, publishWindows, readSchedule } from "./schedule-store.ts";
import { encode } from "../codec.ts";
import type { ScheduleRecord } from "../schemas/schedule.ts";

/**
 * Cancel and reschedule: compare-and-set on the schedule record, then the events. The
 * scheduler acts only on what the record says, so once the write lands nothing cancelled is
 * released and nothing is released before the new time. Tenant-scoped by the record's key.
 */

export interface ControlDeps {
  schedules: KV;
  publisher: AckedPublisher;
}

export type CancelAnswer =
  | { kind: "none" }
  | { kind: "done"; state: ScheduleRecord["state"]; recipients: number; cancelled: number; alreadySent: number };

/** The first recipient index not yet handed (or being handed) to delivery. */
const firstHeld = (r: ScheduleRecord): number => sliceRange(planOf(r), r.releasing ?? r.next).from;

/**
 * Cancel every recipient of a request not yet released (`index` undefined) or one
 * recipient. `cancelled` counts what this call cancelled; `alreadySent` what was released
 * before it (the caller answers 409 when nothing could be cancelled).
 */
export async function cancelScheduled(d: ControlDeps, tenant: string, requestId: string, index: number | undefined, now: number): Promise<CancelAnswer> {
  for (let tries = 0; tries < 20; tries++) {
    const stored = await readSchedule(d.schedules, tenant, requestId);
    if (stored === undefined) return { kind: "none" };
    const r = stored.record;
    const sent = Math.min(r.recipients, firstHeld(r));
    const already = new Set(r.cancelled ?? []);
    if (index !== undefined && index >= r.recipients) return { kind: "none" };
    const cancellable = r.state === "scheduled" && (index === undefined ? sent < r.recipients : index >= sent && !already.has(index));
    if (!cancellable) return { kind: "done", state: index !== undefined && already.has(index) ? "cancelled" : r.state, recipients: r.recipients, cancelled: 0, alreadySent: index === undefined ? sent : index < sent ? 1 : 0 };
    let next: ScheduleRecord;
    if (index === undefined) next = { ...r, state: "cancelled", updatedAt: now };
    else if (already.size >= 1000) throw validationError("too_many_cancels", "at most 1000 recipients of one request can be cancelled one by one; cancel the whole request", "id");
    else next = { ...r, cancelled: [...already, index].sort((a, b) => a - b), updatedAt: now };
    try {
      await d.schedules.update(scheduleKey(tenant, requestId), encode(next), stored.revision);
    } catch (e) {
      if (isCasConflict(e)) continue;
      throw e;
    }
    const [from, to] = index === undefined ? [sent, r.recipients] : [index, index + 1];
    const skip = index === undefined ? already : new Set<number>();
    await publishWindows(d.publisher, recipientEvents(r, from, to, "cancelled", now, "cancelled", skip));
    const cancelled = to - from - (index === undefined ? [...already].filter((i) => i >= from).length : 0);
    return { kind: "done", state: next.state, recipients: r.recipients, cancelled, alreadySent: index === undefined ? sent : 0 };
  }
  throw new Error(`schedule record ${requestId} kept changing under 20 compare-and-set tries`);
}

export type RescheduleAnswer = { kind: "none" } | { kind: "not_scheduled"; state: ScheduleRecord["state"] } | { kind: "done"; record: ScheduleRecord };

/**
 * Move what is not released yet to start at `sendAt` (a past time means now). The new due
 * entry is written before the record: should the write of the record fail, the entry finds
 * the old plan and goes back to sleep; the other way round, a record could wait for an
 * entry that never comes.
 */
export async function rescheduleScheduled(d: ControlDeps, tenant: string, requestId: string, sendAt: number, now: number, horizonMs: number): Promise<RescheduleAnswer> {
  if (sendAt > now + horizonMs) throw validationError("invalid_request", `sendAt is more than ${Math.round(horizonMs / 3_600_000)} h ahead (SLUICE_SCHEDULE_HORIZON)`, "sendAt");
  const start = Math.max(now, sendAt);
  for (let tries = 0; tries < 20; tries++) {
    const stored = await readSchedule(d.schedules, tenant, requestId);
    if (stored === undefined) return { kind: "none" };
    const r = stored.record;
    if (r.state !== "scheduled") return { kind: "not_scheduled", state: r.state };
    if (r.expiresAt !== undefined && r.expiresAt <= start) throw validationError("invalid_request", "sendAt is not before the request's expiry: it would expire before it is sent", "sendAt");
    const next: ScheduleRecord = { ...r, start, version: r.version + 1, updatedAt: now };
    const slice = r.releasing ?? r.next;
    await d.publisher.publish([dueMessage({ v: 1, tenant, requestId, version: next.version, slice, at: wakeTime(next, slice) })], 10_000);
    try {
      await d.schedules.update(scheduleKey(tenant, requestId), encode(next), stored.revision);
      return { kind: "done", record: next };
    } catch (e) {
      if (!isCasConflict(e)) throw e;
    }
  }
  throw new Error(`schedule record ${requestId} kept changing under 20 compare-and-set tries`);
}
