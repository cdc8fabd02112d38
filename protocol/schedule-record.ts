import { sliceTime, type Plan } from "./schedule-plan.ts";
import type { ScheduleRecord } from "./schemas/schedule.ts";

/** Pure helpers over a schedule record (protocol/schemas/schedule.ts): a new one, its plan, when to look at a slice. */

export function newRecord(a: { requestId: string; tenant: string; kind: ScheduleRecord["kind"]; recipients: number; plan: Omit<Plan, "recipients">; expiresAt?: number | undefined; ready: boolean; now: number; hold?: "quota" | undefined }): ScheduleRecord {
  const r: ScheduleRecord = {
    v: 1,
    requestId: a.requestId,
    tenant: a.tenant,
    kind: a.kind,
    recipients: a.recipients,
    start: a.plan.start,
    deliverOverMs: a.plan.deliverOverMs,
    state: "scheduled",
    version: 1,
    next: 0,
    ready: a.ready,
    createdAt: a.now,
    updatedAt: a.now,
  };
  if (a.plan.window !== undefined) r.window = a.plan.window;
  if (a.expiresAt !== undefined) r.expiresAt = a.expiresAt;
  if (a.hold !== undefined) r.hold = a.hold;
  return r;
}

/** The record's plan, as protocol/schedule-plan.ts reads it. */
export const planOf = (r: ScheduleRecord): Plan => ({ start: r.start, recipients: r.recipients, deliverOverMs: r.deliverOverMs, window: r.window });

/** When the scheduler should first look at slice k: its time, or the expiry if that comes first (then it expires the rest). */
export function wakeTime(r: ScheduleRecord, k: number): number {
  const t = sliceTime(planOf(r), k) ?? r.expiresAt ?? r.start + 400 * 86_400_000;
  return r.expiresAt === undefined ? t : Math.min(t, r.expiresAt);
}
