import { test } from "node:test";
import assert from "node:assert/strict";
import { nextRelease, releasedSoFar, WARMUP_PRESETS, warmupCounterKey, warmupDay, warmupToday, type WarmupPlan } from "../../protocol/index.ts";

const at = (iso: string): number => Date.parse(iso);

test("warm-up presets: a conservative 30-day ramp from 50 doubling early, and a faster 14-day one", () => {
  assert.equal(WARMUP_PRESETS.conservative.length, 30);
  assert.deepEqual(WARMUP_PRESETS.conservative.slice(0, 3), [50, 100, 200]);
  assert.equal(WARMUP_PRESETS.fast.length, 14);
  for (const ramp of Object.values(WARMUP_PRESETS)) {
    for (let i = 1; i < ramp.length; i++) assert.ok((ramp[i] as number) > (ramp[i - 1] as number), "every day allows more than the day before");
  }
  assert.ok((WARMUP_PRESETS.fast[0] as number) > (WARMUP_PRESETS.conservative[0] as number));
});

test("warm-up day: counted in UTC days from the start; days before the start are day 0", () => {
  const plan = { start: "2026-12-01" };
  assert.equal(warmupDay(plan, at("2026-12-01T00:00:00Z")), 0);
  assert.equal(warmupDay(plan, at("2026-12-01T23:59:59Z")), 0);
  assert.equal(warmupDay(plan, at("2026-12-02T00:00:00Z")), 1);
  assert.equal(warmupDay(plan, at("2026-12-31T12:00:00Z")), 30);
  assert.equal(warmupDay(plan, at("2026-11-20T12:00:00Z")), 0);
});

test("a day's cap comes from the group's own schedule if it has one, and ends with the ramp", () => {
  const plan: WarmupPlan = { start: "2026-12-01", schedule: "conservative", groups: { "mx:google": [10, 20], "slow.test": "fast" } };
  const day2 = at("2026-12-03T23:00:00Z");
  assert.deepEqual(warmupToday(plan, "example.com", day2), { day: 2, cap: 200, allowed: 200 });
  assert.equal(warmupToday(plan, "slow.test", day2).cap, 2000);
  assert.equal(warmupToday(plan, "mx:google", at("2026-12-02T23:00:00Z")).cap, 20);
  assert.deepEqual(warmupToday(plan, "mx:google", day2), { day: 2, cap: undefined, allowed: Infinity }, "after its last day a source has no cap");
});

test("a day's cap is released hour by hour over the sending hours, all of it by their end", () => {
  assert.equal(releasedSoFar(240, [0, 24], at("2026-12-01T00:10:00Z")), 10);
  assert.equal(releasedSoFar(240, [0, 24], at("2026-12-01T11:59:00Z")), 120);
  assert.equal(releasedSoFar(240, [0, 24], at("2026-12-01T23:00:00Z")), 240);
  assert.equal(releasedSoFar(100, [8, 20], at("2026-12-01T07:59:00Z")), 0, "nothing before the window");
  assert.equal(releasedSoFar(100, [8, 20], at("2026-12-01T08:00:00Z")), 9, "a twelfth, rounded up, in its first hour");
  assert.equal(releasedSoFar(100, [8, 20], at("2026-12-01T19:30:00Z")), 100);
  assert.equal(releasedSoFar(100, [8, 20], at("2026-12-01T22:00:00Z")), 100, "all of it after the window");
});

test("the next release is the next hour in the window, else the next day's first", () => {
  assert.equal(nextRelease({}, at("2026-12-01T10:20:00Z")), at("2026-12-01T11:00:00Z"));
  assert.equal(nextRelease({}, at("2026-12-01T23:20:00Z")), at("2026-12-02T00:00:00Z"));
  assert.equal(nextRelease({ sendingHours: [8, 20] }, at("2026-12-01T03:00:00Z")), at("2026-12-01T08:00:00Z"));
  assert.equal(nextRelease({ sendingHours: [8, 20] }, at("2026-12-01T19:10:00Z")), at("2026-12-02T08:00:00Z"));
});

test("a warm-up counter key is per (source, destination group, day) and KV-safe", () => {
  assert.equal(warmupCounterKey("ip1", "mx:google", "2026-12-01"), "ip1.mx_google.2026-12-01");
  assert.equal(warmupCounterKey("ip1", "example.com", "2026-12-01"), "ip1.example.com.2026-12-01");
});
