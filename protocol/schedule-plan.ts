import { windowTime, type DeliveryWindow } from "./schedule-time.ts";

/**
 * A release plan: when each recipient of a scheduled request is handed to delivery. Pure
 * and deterministic from the plan's fields, so the fan-out (which files recipients into
 * slices), the scheduler (which releases slices) and a replay after a crash all agree.
 *
 * Recipients are released in slices of consecutive indexes. Recipient i's offset is
 * i·deliverOver/n of open-window time after `start`; a slice holds about one second's worth
 * (at most SLICE_MAX recipients) and is released at its first recipient's time, so the
 * release is even at one-second grain and the scheduler's work is per slice, not per
 * recipient.
 */
export interface Plan {
  /** When releasing begins (the request's sendAt, or its acceptance). */
  start: number;
  recipients: number;
  /** Spread the recipients evenly over this much open-window time; 0 = all at start. */
  deliverOverMs: number;
  window?: DeliveryWindow | undefined;
}

export const SLICE_MAX = 1000;
const SLICE_MS = 1000;

/** Recipients per slice. */
export function sliceSize(p: Pick<Plan, "recipients" | "deliverOverMs">): number {
  if (p.deliverOverMs <= 0) return SLICE_MAX;
  return Math.max(1, Math.min(SLICE_MAX, Math.floor((p.recipients * SLICE_MS) / p.deliverOverMs)));
}

export function sliceCount(p: Pick<Plan, "recipients" | "deliverOverMs">): number {
  return Math.ceil(p.recipients / sliceSize(p));
}

export function sliceOf(p: Pick<Plan, "recipients" | "deliverOverMs">, index: number): number {
  return Math.floor(index / sliceSize(p));
}

/** Recipient indexes [from, to) of slice k. */
export function sliceRange(p: Pick<Plan, "recipients" | "deliverOverMs">, k: number): { from: number; to: number } {
  const size = sliceSize(p);
  return { from: Math.min(p.recipients, k * size), to: Math.min(p.recipients, (k + 1) * size) };
}

/** Open-window time from start to recipient i's release. */
export function offsetOf(p: Pick<Plan, "recipients" | "deliverOverMs">, index: number): number {
  return p.recipients <= 0 ? 0 : Math.floor((index * p.deliverOverMs) / p.recipients);
}

/** When slice k is released; undefined when its window never opens. */
export function sliceTime(p: Plan, k: number): number | undefined {
  return windowTime(p.start, offsetOf(p, sliceRange(p, k).from), p.window);
}

/** The last slice, from `first` on, whose time has come by `now` (first - 1 when none has). */
export function lastDueSlice(p: Plan, first: number, now: number): number {
  const count = sliceCount(p);
  let k = first;
  while (k < count) {
    const t = sliceTime(p, k);
    if (t === undefined || t > now) break;
    k++;
  }
  return k - 1;
}
