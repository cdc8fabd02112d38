import { z } from "zod";
import { sliceRange, sliceSize, type Plan } from "./schedule-plan.ts";
import { openTimeUntil, windowTime } from "./schedule-time.ts";
import type { ScheduleRecord } from "./schemas/schedule.ts";

/**
 * Scheduled volume ahead: how many recipients each of the next hours will release, for
 * `sluice top`, /metrics and GET /v1/schedules/volume. Pure; computed from the plans with 25
 * boundary look-ups per request rather than a walk over its slices.
 */
export const VOLUME_HOURS = 24;

export interface ScheduledVolume {
  at: number;
  /** Recipients released in hour h from `at` (h = 0 … 23). */
  hours: number[];
  /** Released later than that. */
  later: number;
  /** Recipients waiting in all. */
  total: number;
  /** Scheduled requests and batches. */
  requests: number;
  /** Of the waiting recipients, those held over their tenant's daily quota (onQuota "hold"), per tenant. */
  heldForQuota?: Record<string, number>;
}

/** The leader's snapshot on `sluice.schedule.volume`, as readers (sluice top, the gateway) check it. */
export const VolumeSnapshot = z.object({
  at: z.number(),
  hours: z.array(z.number()),
  later: z.number(),
  total: z.number(),
  requests: z.number(),
  heldForQuota: z.record(z.string(), z.number()).optional(),
});

export const emptyVolume = (at: number): ScheduledVolume => ({ at, hours: Array.from({ length: VOLUME_HOURS }, () => 0), later: 0, total: 0, requests: 0 });

/** Recipients of the plan released before instant t (whole slices). */
export function releasedBy(p: Plan, t: number): number {
  const first = windowTime(p.start, 0, p.window);
  if (first === undefined || t < first) return 0;
  if (p.deliverOverMs <= 0) return p.recipients;
  const open = openTimeUntil(p.start, t, p.window);
  // Recipients whose offset is before `open` (released strictly before t).
  const indexes = Math.min(p.recipients, Math.ceil((open * p.recipients) / p.deliverOverMs));
  const size = sliceSize(p);
  return Math.min(p.recipients, Math.ceil(indexes / size) * size);
}

/** Add one record's waiting recipients to `v`. */
export function addVolume(v: ScheduledVolume, r: ScheduleRecord): void {
  if (r.state !== "scheduled") return;
  const plan: Plan = { start: r.start, recipients: r.recipients, deliverOverMs: r.deliverOverMs, window: r.window };
  const base = sliceRange(plan, r.releasing ?? r.next).from;
  const waiting = r.recipients - base;
  if (waiting <= 0) return;
  v.requests++;
  v.total += waiting;
  if (r.hold === "quota") {
    v.heldForQuota ??= {};
    v.heldForQuota[r.tenant] = (v.heldForQuota[r.tenant] ?? 0) + waiting;
  }
  let before = base;
  for (let h = 0; h < VOLUME_HOURS; h++) {
    const by = Math.max(base, releasedBy(plan, v.at + (h + 1) * 3_600_000));
    v.hours[h] = (v.hours[h] ?? 0) + (by - before);
    before = by;
  }
  v.later += r.recipients - before;
}
