import type { WarmupPlan, WarmupSchedule } from "./schemas/egress.ts";

/**
 * IP warm-up arithmetic (issue 19), pure: which day of its ramp a source is on, its cap
 * for a destination group that day, and how much of that cap the sending hours have
 * released so far. Mailbox providers judge a new address by its first weeks: volume that
 * grows day by day, spread over the day rather than in one burst.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * Daily caps of the built-in ramps. `conservative`: 30 days from 50 to 100,000, about
 * doubling early and slowing later, as the big providers' postmaster pages advise for a
 * cold address; `fast`: 14 days, for an address moving an established stream.
 */
export const WARMUP_PRESETS: Record<"conservative" | "fast", readonly number[]> = {
  conservative: [
    50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7500, 9000, 11000, 13000, 15000, 18000, 21000, 25000, 30000, 35000, 40000, 50000, 60000, 70000, 85000,
    100000,
  ],
  fast: [500, 1000, 2000, 4000, 8000, 15000, 25000, 40000, 60000, 80000, 100000, 150000, 200000, 300000],
};

export const scheduleOf = (s: WarmupSchedule): readonly number[] => (typeof s === "string" ? WARMUP_PRESETS[s] : s);

/** Day of the ramp (0 = the start day); days before the start count as day 0. */
export function warmupDay(plan: Pick<WarmupPlan, "start">, now: number): number {
  const start = Date.parse(`${plan.start}T00:00:00Z`);
  return Math.max(0, Math.floor((Math.floor(now / DAY_MS) * DAY_MS - start) / DAY_MS));
}

/** A source's warm-up figures for one destination group today; `cap` undefined once the ramp is over. */
export interface WarmupToday {
  day: number;
  /** The day's cap; undefined = the ramp is over, no cap. */
  cap: number | undefined;
  /** How much of the cap the sending hours have released by now (≤ cap). */
  allowed: number;
}

export function warmupToday(plan: WarmupPlan, group: string, now: number): WarmupToday {
  const day = warmupDay(plan, now);
  const schedule = scheduleOf(plan.groups?.[group] ?? plan.schedule);
  const cap = schedule[day];
  if (cap === undefined) return { day, cap: undefined, allowed: Infinity };
  return { day, cap, allowed: releasedSoFar(cap, plan.sendingHours ?? [0, 24], now) };
}

/**
 * The day's cap is released in equal hourly steps over the sending hours [from, to): by the
 * end of hour k of the window, (k+1)/hours of it. Nothing before the window, all after it.
 */
export function releasedSoFar(cap: number, [from, to]: readonly [number, number], now: number): number {
  const hour = Math.floor((now % DAY_MS) / HOUR_MS);
  if (hour < from) return 0;
  if (hour >= to) return cap;
  return Math.ceil((cap * (hour - from + 1)) / (to - from));
}

/** When more of a cap is released next: the next hour inside the window, else the next day's window. */
export function nextRelease(plan: Pick<WarmupPlan, "sendingHours">, now: number): number {
  const [from, to] = plan.sendingHours ?? [0, 24];
  const midnight = Math.floor(now / DAY_MS) * DAY_MS;
  const hour = Math.floor((now - midnight) / HOUR_MS);
  if (hour < from) return midnight + from * HOUR_MS;
  if (hour + 1 < to) return midnight + (hour + 1) * HOUR_MS;
  return midnight + DAY_MS + from * HOUR_MS;
}

/** KV key of a (source, destination group, day) counter: `mx:google` is stored as `mx_google`. */
export const warmupCounterKey = (source: string, group: string, day: string): string => `${source}.${group.replace(/[^A-Za-z0-9_.-]/g, "_")}.${day}`;
