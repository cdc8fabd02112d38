import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DeliveryWindow,
  insideWindow,
  lastDueSlice,
  parseInstant,
  resolveTiming,
  SendRequest,
  BatchRequest,
  isSluiceError,
  sliceCount,
  sliceOf,
  sliceRange,
  sliceTime,
  windowTime,
  type Plan,
} from "../../protocol/index.ts";

const at = (iso: string): number => Date.parse(iso);
const win = (w: unknown): DeliveryWindow => DeliveryWindow.parse(w);
const HOUR = 3_600_000;

test("sendAt: ISO 8601 with an offset or unix ms; a time without an offset is refused", () => {
  assert.equal(parseInstant("2026-12-24T09:00:00+01:00"), at("2026-12-24T08:00:00Z"));
  assert.equal(parseInstant("2026-12-24T08:00Z"), at("2026-12-24T08:00:00Z"));
  assert.equal(parseInstant(1_800_000_000_000), 1_800_000_000_000);
  for (const bad of ["2026-12-24T09:00:00", "2026-12-24", "tomorrow", -5, 1.5, "2026-13-40T99:00:00Z"]) assert.equal(parseInstant(bad), undefined, String(bad));
  const r = SendRequest.safeParse({ from: "a@b.test", to: "c@d.test", subject: "s", text: "t", sendAt: "2026-12-24T09:00:00" });
  assert.ok(!r.success);
  assert.deepEqual(r.error.issues[0]?.path, ["sendAt"]);
});

test("resolveTiming: a past sendAt means now, the horizon bounds the future, expiry must come after the send", () => {
  const now = at("2026-06-01T12:00:00Z");
  assert.deepEqual(resolveTiming({ sendAt: now - 60_000 }, now, 30 * 24 * HOUR), {});
  assert.deepEqual(resolveTiming({ sendAt: now + HOUR }, now, 30 * 24 * HOUR), { plan: { start: now + HOUR, deliverOverMs: 0 } });
  assert.deepEqual(resolveTiming({ sendAt: now + HOUR, ttl: HOUR }, now, 30 * 24 * HOUR).expiresAt, now + 2 * HOUR);
  const fails = (input: Parameters<typeof resolveTiming>[0], field: string) =>
    assert.throws(() => resolveTiming(input, now, 30 * 24 * HOUR), (e: unknown) => isSluiceError(e) && e.field === field, field);
  fails({ sendAt: now + 31 * 24 * HOUR }, "sendAt");
  fails({ expiresAt: now - 1 }, "expiresAt");
  fails({ sendAt: now + 2 * HOUR, expiresAt: now + HOUR }, "expiresAt");
  fails({ expiresAt: now + HOUR, ttl: HOUR }, "ttl");
  // Pacing alone makes a plan that starts now.
  assert.deepEqual(resolveTiming({ deliverOver: 6 * HOUR }, now, 30 * 24 * HOUR).plan, { start: now, deliverOverMs: 6 * HOUR });
});

test("batch pacing fields: deliverOver is a duration, window needs HH:MM, a real zone and known days", () => {
  const base = { from: "a@b.test", subject: "s", text: "t", recipients: [{ to: "c@d.test" }] };
  assert.ok(BatchRequest.safeParse({ ...base, deliverOver: "6h", window: { start: "09:00", end: "17:00", tz: "Europe/Paris", days: ["mon", "fri"] } }).success);
  for (const [field, bad] of [
    ["deliverOver", { deliverOver: "soon" }],
    ["window", { window: { start: "9am", end: "17:00" } }],
    ["window", { window: { start: "09:00", end: "17:00", tz: "Mars/Olympus" } }],
    ["window", { window: { start: "09:00", end: "17:00", days: ["someday"] } }],
    ["window", { window: { start: "09:00", end: "09:00" } }],
  ] as const) {
    const r = BatchRequest.safeParse({ ...base, ...bad });
    assert.ok(!r.success, JSON.stringify(bad));
    assert.equal(r.error.issues[0]?.path[0], field);
  }
  // deliverOver and window belong to batches only.
  assert.ok(!SendRequest.safeParse({ from: "a@b.test", to: "c@d.test", subject: "s", text: "t", deliverOver: "1h" }).success);
});

test("window: local hours in the given zone, across DST and over midnight, on the given days", () => {
  const paris = win({ start: "09:00", end: "17:00", tz: "Europe/Paris" });
  // Winter (UTC+1) and summer (UTC+2).
  assert.equal(windowTime(at("2026-01-15T06:00:00Z"), 0, paris), at("2026-01-15T08:00:00Z"));
  assert.equal(windowTime(at("2026-07-15T06:00:00Z"), 0, paris), at("2026-07-15T07:00:00Z"));
  // Inside the window: now. After it: tomorrow's opening. Offset runs over into the next day.
  assert.equal(windowTime(at("2026-01-15T10:00:00Z"), 0, paris), at("2026-01-15T10:00:00Z"));
  assert.equal(windowTime(at("2026-01-15T17:00:00Z"), 0, paris), at("2026-01-16T08:00:00Z"));
  assert.equal(windowTime(at("2026-01-15T15:00:00Z"), 2 * HOUR, paris), at("2026-01-16T09:00:00Z"));
  // Over midnight: 22:00–06:00 UTC.
  const night = win({ start: "22:00", end: "06:00", tz: "UTC" });
  assert.ok(insideWindow(at("2026-01-15T02:00:00Z"), night));
  assert.ok(!insideWindow(at("2026-01-15T12:00:00Z"), night));
  assert.equal(windowTime(at("2026-01-15T12:00:00Z"), HOUR, night), at("2026-01-15T23:00:00Z"));
  // Days: 2026-01-16 is a Friday; a Monday-only window waits for the 19th.
  const mondays = win({ start: "09:00", end: "10:00", tz: "UTC", days: ["mon"] });
  assert.equal(windowTime(at("2026-01-16T12:00:00Z"), 0, mondays), at("2026-01-19T09:00:00Z"));
  // The day of the DST change (2026-03-29 in Paris): still 09:00 local, now UTC+2.
  assert.equal(windowTime(at("2026-03-29T00:00:00Z"), 0, paris), at("2026-03-29T07:00:00Z"));
});

test("plan: recipients spread evenly over deliverOver in one-second slices, deterministic from the plan alone", () => {
  const start = at("2026-01-15T10:00:00Z");
  const p: Plan = { start, recipients: 20, deliverOverMs: 10_000 };
  assert.equal(sliceCount(p), 10);
  assert.deepEqual(sliceRange(p, 3), { from: 6, to: 8 });
  assert.equal(sliceOf(p, 7), 3);
  assert.equal(sliceTime(p, 0), start);
  assert.equal(sliceTime(p, 9), start + 9000);
  assert.equal(lastDueSlice(p, 0, start - 1), -1);
  assert.equal(lastDueSlice(p, 0, start + 4500), 4);
  assert.equal(lastDueSlice(p, 5, start + 60_000), 9);
  // Many recipients over a long spread: at most 1000 a slice, slices about a second apart.
  const big: Plan = { start, recipients: 100_000, deliverOverMs: 6 * HOUR };
  assert.equal(sliceRange(big, 0).to, 4);
  const gaps = [1, 2, 3].map((k) => (sliceTime(big, k) as number) - (sliceTime(big, k - 1) as number));
  for (const g of gaps) assert.ok(g >= 800 && g <= 1000, `gap ${g}`);
  // No spread: everyone at the start, in slices of 1000.
  const flat: Plan = { start, recipients: 2500, deliverOverMs: 0 };
  assert.equal(sliceCount(flat), 3);
  assert.equal(lastDueSlice(flat, 0, start), 2);
  // A window pauses the spread: 2 h over a 09:00–10:00 UTC window ends the next day.
  const windowed: Plan = { start: at("2026-01-15T09:00:00Z"), recipients: 2, deliverOverMs: 2 * HOUR, window: win({ start: "09:00", end: "10:00", tz: "UTC" }) };
  assert.equal(sliceTime(windowed, 1), at("2026-01-16T09:00:00Z"));
});

test("scheduled volume: recipients per hour ahead from the plans, released ones left out", async () => {
  const { addVolume, emptyVolume, releasedBy } = await import("../../protocol/index.ts");
  const { renderScheduled } = await import("../../cli/top/render.ts");
  const now = at("2026-01-15T08:00:00Z");
  // 3,600 recipients over 3 h from now: 1,200 an hour.
  const paced = { v: 1 as const, requestId: "0".repeat(26), tenant: "acme", kind: "batch" as const, recipients: 3600, start: now, deliverOverMs: 3 * HOUR, state: "scheduled" as const, version: 1, next: 0, ready: true, createdAt: now, updatedAt: now };
  const v = emptyVolume(now);
  addVolume(v, paced);
  assert.deepEqual(v.hours.slice(0, 4), [1200, 1200, 1200, 0]);
  assert.equal(v.total, 3600);
  // Half released already: only the rest counts.
  const half = emptyVolume(now);
  addVolume(half, { ...paced, next: 1800 }); // slices of 1 recipient
  assert.equal(half.total, 1800);
  // A window opening at 10:00 for an hour, 500 recipients over 2 h of it: 250 at 10–11, 250 the next day.
  const windowed = { ...paced, recipients: 500, deliverOverMs: 2 * HOUR, window: win({ start: "10:00", end: "11:00", tz: "UTC" }) };
  assert.equal(releasedBy({ start: now, recipients: 500, deliverOverMs: 2 * HOUR, window: windowed.window }, at("2026-01-15T09:59:00Z")), 0);
  const w = emptyVolume(now);
  addVolume(w, windowed);
  assert.equal(w.hours[2], 250);
  assert.equal(w.hours.reduce((a, b) => a + b, 0) + w.later, 500);
  // Cancelled or released requests are not waiting.
  const none = emptyVolume(now);
  addVolume(none, { ...paced, state: "cancelled" });
  assert.equal(none.total, 0);
  assert.match(renderScheduled(v).join("\n"), /SCHEDULED\s+3600 recipient\(s\) in 1 request/);
});
