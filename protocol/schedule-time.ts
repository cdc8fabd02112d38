import { z } from "zod";
import { parseDuration } from "./units.ts";

/**
 * Time as scheduling requests write it, and the delivery windows of a paced batch. Pure:
 * no clock is read here (callers pass `now`), so unit tests pin every instant.
 */

/** ISO 8601 with an explicit offset; a time without one would mean "whatever zone the server runs in". */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** "2026-12-24T09:00:00+01:00" or unix milliseconds → ms; undefined when neither. */
export function parseInstant(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? v : undefined;
  if (typeof v !== "string" || v.length > 40 || !ISO_WITH_OFFSET.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A request's instant field (sendAt, expiresAt): accepted as written, checked against the clock later. */
export const Instant = z
  .union([z.number(), z.string()])
  .refine((v) => parseInstant(v) !== undefined, {
    message: "must be an ISO 8601 time with an offset (2026-12-24T09:00:00+01:00, or Z) or unix milliseconds",
  })
  .transform((v) => parseInstant(v) as number);

export const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/**
 * Release only between `start` and `end` local time in `tz` (end before start: the window
 * runs over midnight), on `days` (the day the window opens; every day when absent).
 */
export const DeliveryWindow = z
  .object({
    start: z.string().regex(HH_MM, "must be HH:MM (24 h)"),
    end: z.string().regex(HH_MM, "must be HH:MM (24 h)"),
    tz: z.string().max(64).refine(isTimeZone, "is not an IANA time zone (e.g. Europe/Paris, UTC)").default("UTC"),
    days: z.array(z.enum(WEEKDAYS, { message: `must be one of ${WEEKDAYS.join(", ")}` })).min(1).max(7).optional(),
  })
  .strict()
  .refine((w) => w.start !== w.end, { message: "start and end are equal: the window would never be open", path: ["end"] });
export type DeliveryWindow = z.output<typeof DeliveryWindow>;

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: tz, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall clock in `tz` at instant `t`, as if it were UTC (so arithmetic on it is plain). */
function wallClock(t: number, tz: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) if (p.type !== "literal") parts[p.type] = Number(p.value);
  return Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0) + (t % 1000 + 1000) % 1000;
}

/**
 * The instant at which the wall clock in `tz` shows `wall` (a UTC-encoded wall time). In a
 * spring-forward gap the time does not exist and the later instant is taken; in a
 * fall-back overlap, the first.
 */
export function instantOf(wall: number, tz: string): number {
  let t = wall - (wallClock(wall, tz) - wall);
  // Two corrections settle every real zone (offset of the guess, then of the answer).
  for (let i = 0; i < 2; i++) {
    const diff = wallClock(t, tz) - wall;
    if (diff === 0) break;
    t -= diff;
  }
  return t;
}

const DAY_MS = 86_400_000;
/** A window that never opens in this many days is refused (a plan must end). */
const MAX_SCAN_DAYS = 800;

/** The open intervals [from, to) of the window, in instant order, from the one containing or after `t`. */
export function* openIntervals(w: DeliveryWindow, t: number): Generator<[number, number]> {
  const startMin = minutesOf(w.start);
  const endMin = minutesOf(w.end);
  const overnight = endMin <= startMin;
  // From the local day before t: an overnight window opened yesterday may still be open.
  let day = Math.floor(wallClock(t, w.tz) / DAY_MS) - 1;
  for (let scanned = 0; scanned < MAX_SCAN_DAYS; scanned++, day++) {
    const weekday = WEEKDAYS[(((day + 4) % 7) + 7) % 7] as Weekday; // 1970-01-01 was a Thursday
    if (w.days !== undefined && !w.days.includes(weekday)) continue;
    const from = instantOf(day * DAY_MS + startMin * 60_000, w.tz);
    const to = instantOf((day + (overnight ? 1 : 0)) * DAY_MS + endMin * 60_000, w.tz);
    if (to > t && to > from) yield [Math.max(from, t), to];
  }
}

/**
 * The instant at which `offsetMs` of open-window time has passed since `start` (the first
 * open instant when 0). Without a window: start + offset. Undefined when the window does
 * not open within MAX_SCAN_DAYS.
 */
export function windowTime(start: number, offsetMs: number, w: DeliveryWindow | undefined): number | undefined {
  if (w === undefined) return start + offsetMs;
  let left = offsetMs;
  for (const [from, to] of openIntervals(w, start)) {
    if (left < to - from) return from + left;
    left -= to - from;
  }
  return undefined;
}

/** Open-window time between `start` and `t` (t - start without a window). */
export function openTimeUntil(start: number, t: number, w: DeliveryWindow | undefined): number {
  if (t <= start) return 0;
  if (w === undefined) return t - start;
  let total = 0;
  for (const [from, to] of openIntervals(w, start)) {
    if (from >= t) break;
    total += Math.min(to, t) - from;
  }
  return total;
}

/** Is `t` inside the window? */
export function insideWindow(t: number, w: DeliveryWindow): boolean {
  const first = openIntervals(w, t).next();
  return !first.done && first.value[0] <= t;
}

/** A duration as a person writes it ("90s", "6h", "1h30m"), in ms; at most `maxMs`. */
export const Duration = (maxMs: number) =>
  z
    .string()
    .max(64)
    .refine((s) => {
      const ms = parseDuration(s);
      return ms !== undefined && ms > 0 && ms <= maxMs;
    }, `must be a duration such as 90s, 15m, 6h (more than 0, at most ${maxMs / 86_400_000} days)`)
    .transform((s) => parseDuration(s) as number);
