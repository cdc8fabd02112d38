import { z } from "zod";
import { validationError } from "./errors.ts";
import type { Plan } from "./schedule-plan.ts";
import { Duration, Instant, DeliveryWindow } from "./schedule-time.ts";

/**
 * The scheduling fields of a request (POST /v1/messages, /v1/batches, the SDK) and what
 * they come to at acceptance. Pure: the caller passes the clock and the horizon.
 */

const YEAR_MS = 365 * 86_400_000;

/** sendAt and expiry, on messages and batches. */
export const TIMING_FIELDS = {
  /** Release at (ISO 8601 with offset, or unix ms); a past time means now. */
  sendAt: Instant.optional().describe("Release at this time: ISO 8601 with an offset, or unix ms; up to SLUICE_SCHEDULE_HORIZON (30 days) ahead; a past time means now. Until then recipients are `scheduled`; the retry window starts at release."),
  /** Not delivered by then: the recipient ends `expired`, never delivered afterwards. */
  expiresAt: Instant.optional().describe("Not delivered by then, a recipient ends `expired` (scheduled, queued or waiting on a retry) and is never delivered afterwards."),
  /** Same as expiresAt, relative to sendAt (or acceptance). */
  ttl: Duration(YEAR_MS).optional().describe('Instead of expiresAt: a duration ("1h") counted from sendAt, or from acceptance.'),
};

/** Pacing, on batches: spread the recipients over a duration, release only inside a window. */
export const PACING_FIELDS = {
  deliverOver: Duration(YEAR_MS).optional().describe('Spread the recipients evenly over this much (open-window) time, e.g. "6h"; each recipient\'s release time is fixed at fan-out.'),
  window: DeliveryWindow.optional().describe('Release only inside this local-time window, e.g. {"start": "09:00", "end": "17:00", "tz": "Europe/Paris", "days": ["mon", "tue"]}; end before start runs over midnight.'),
};

export interface TimingInput {
  sendAt?: number | undefined;
  expiresAt?: number | undefined;
  ttl?: number | undefined;
  deliverOver?: number | undefined;
  window?: DeliveryWindow | undefined;
}

export interface Timing {
  /** Present when the request waits for the scheduler: a future sendAt, or pacing. */
  plan?: Omit<Plan, "recipients">;
  expiresAt?: number;
  /** Held over the tenant's daily quota (onQuota "hold"): the plan starts when the quota renews. */
  hold?: "quota";
}

/**
 * What a request's timing fields come to at `now`; a validation error names the field.
 * `holdUntil` (a request held over its tenant's daily quota): the plan starts no earlier.
 */
export function resolveTiming(r: TimingInput, now: number, horizonMs: number, holdUntil?: number): Timing {
  if (r.expiresAt !== undefined && r.ttl !== undefined) throw validationError("invalid_request", "give expiresAt or ttl, not both", "ttl");
  if (r.sendAt !== undefined && r.sendAt > now + horizonMs) {
    throw validationError("invalid_request", `sendAt is more than ${Math.round(horizonMs / 3_600_000)} h ahead (SLUICE_SCHEDULE_HORIZON)`, "sendAt");
  }
  // A time already past means now.
  const start = Math.max(now, r.sendAt ?? now);
  const out: Timing = {};
  const expiresAt = r.expiresAt ?? (r.ttl === undefined ? undefined : start + r.ttl);
  if (expiresAt !== undefined) {
    const field = r.ttl === undefined ? "expiresAt" : "ttl";
    if (expiresAt <= now) throw validationError("invalid_request", `${field} is already past`, field);
    if (expiresAt <= start) throw validationError("invalid_request", `${field} is not after sendAt: the mail would expire before it is sent`, field);
    out.expiresAt = expiresAt;
  }
  const deliverOverMs = r.deliverOver ?? 0;
  if (holdUntil !== undefined) {
    out.plan = { start: Math.max(start, holdUntil), deliverOverMs, ...(r.window === undefined ? {} : { window: r.window }) };
    out.hold = "quota";
  } else if (start > now || deliverOverMs > 0 || r.window !== undefined) {
    out.plan = { start, deliverOverMs, ...(r.window === undefined ? {} : { window: r.window }) };
  }
  return out;
}

/** PATCH /v1/messages/{id} and /v1/batches/{id}: a new sendAt for what is not released yet. */
export const RescheduleRequest = z.object({ sendAt: Instant }).strict();
export type RescheduleRequest = z.output<typeof RescheduleRequest>;
