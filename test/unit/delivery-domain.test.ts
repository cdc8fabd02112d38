import { test } from "node:test";
import assert from "node:assert/strict";
import { LearnedLimits } from "../../actors/domain/learned-limits.ts";
import { TierQueue } from "../../actors/domain/tier-queue.ts";
import { TokenBucket } from "../../actors/domain/token-bucket.ts";

test("token bucket allows the burst at once, then the rate", () => {
  const b = new TokenBucket({ ratePerSecond: 10, burst: 5 }, 0);
  let taken = 0;
  while (b.tryTake(0)) taken++;
  assert.equal(taken, 5);
  assert.equal(b.waitMs(0), 100);
  assert.equal(b.tryTake(99), false);
  assert.equal(b.tryTake(100), true);
  // Over 10 s, 10/s: about 100 more.
  let later = 0;
  for (let t = 100; t <= 10_100; t += 10) if (b.tryTake(t)) later++;
  assert.ok(later >= 99 && later <= 101, String(later));
});

test("token bucket honours a per-minute cap across a high rate", () => {
  const b = new TokenBucket({ ratePerSecond: 1000, burst: 1000, perMinute: 30 }, 0);
  let taken = 0;
  for (let t = 0; t < 59_000; t += 100) while (b.tryTake(t)) taken++;
  assert.equal(taken, 30);
  assert.ok(b.waitMs(59_000) > 0 && b.waitMs(59_000) <= 1000);
  assert.equal(b.tryTake(60_000), true);
});

test("tier queue serves critical, then transactional, then bulk, each in order", () => {
  const q = new TierQueue<string>();
  q.push("bulk", "b1");
  q.push("transactional", "t1");
  q.push("bulk", "b2");
  q.push("critical", "c1");
  q.push("critical", "c2");
  assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], ["c1", "c2", "t1", "b1", "b2", undefined]);
  for (let i = 0; i < 3000; i++) q.push("bulk", `x${i}`);
  assert.deepEqual(q.extract((s) => s.endsWith("7")).length, 300);
  assert.equal(q.size, 2700);
  assert.equal(q.shift(), "x0");
});

test("a concurrency refusal lowers the connection cap to what is working, never below 1", () => {
  const l = new LearnedLimits(50, 10, { decayMs: 60_000, windowMs: 10_000, margin: 0.9 });
  assert.equal(l.connectionSource, "policy");
  assert.equal(l.connectionRefused(0, 3), true);
  assert.equal(l.connections, 3);
  assert.equal(l.connectionSource, "learned");
  assert.equal(l.connectionRefused(10, 5), false, "a refusal never raises the cap");
  assert.equal(l.connectionRefused(20, 0), true);
  assert.equal(l.connections, 1);
});

test("sessions seen working at once after a refusal raise a cap learned too low, never above the policy", () => {
  const l = new LearnedLimits(50, 10);
  l.connectionRefused(0, 0); // refused while the others were still in their greeting
  assert.equal(l.connections, 1);
  l.sessionsWorking(3);
  assert.equal(l.connections, 3);
  l.sessionsWorking(2);
  assert.equal(l.connections, 3);
  l.sessionsWorking(40);
  assert.equal(l.connections, 10);
});

test("connections come back one per quiet period, up to the policy", () => {
  const l = new LearnedLimits(50, 4, { decayMs: 60_000, windowMs: 10_000, margin: 0.9 });
  l.connectionRefused(0, 1);
  l.decay(59_999);
  assert.equal(l.connections, 1);
  l.decay(60_000);
  assert.equal(l.connections, 2);
  l.connectionRefused(70_000, 2); // a refusal restarts the quiet period
  l.decay(120_000);
  assert.equal(l.connections, 2);
  l.decay(130_000);
  assert.equal(l.connections, 3);
  l.decay(1_000_000);
  assert.equal(l.connections, 4);
  assert.equal(l.connectionSource, "policy");
});

test("rate refusals: what was accepted while sending, then over the whole window once refusals persist", () => {
  // A destination allowing 50 messages per 10 s, sent to at 50/s: 50 accepted in the first second.
  const l = new LearnedLimits(50, 10, { decayMs: 60_000, windowMs: 10_000, margin: 0.9 });
  for (let i = 0; i < 50; i++) l.accepted(i * 20);
  // First lesson: 50 accepted over the 1 s we have been sending (it may count per second).
  assert.deepEqual(l.rateRefused(1000), { cut: true, pauseMs: 1000 });
  assert.ok(Math.abs(l.rate - 45) < 1e-9, String(l.rate));
  // Refusals of sends already under way count once.
  assert.deepEqual([1100, 1200].map((t) => l.rateRefused(t)), [{ cut: false, pauseMs: 0 }, { cut: false, pauseMs: 0 }]);
  // Still refused after the pause, nothing accepted: it counts over a longer window — 50 per 10 s.
  assert.deepEqual(l.rateRefused(2000), { cut: true, pauseMs: 2000 });
  assert.ok(Math.abs(l.rate - 4.5) < 1e-9, String(l.rate));
  const later = [4000, 8000, 13_000].map((t) => l.rateRefused(t));
  assert.deepEqual(later.map((r) => r.pauseMs), [4000, 5000, 5000], "doubling, up to half the window");
  assert.ok(later.every((r) => !r.cut), "nothing new learned while the destination's window runs");
  assert.equal(l.rateSource, "learned");
  assert.equal(l.cuts, 2);
  assert.equal(l.refusals, 7);
  // Accepted again: the next refusal starts a new streak, its pause from 1 s.
  l.accepted(17_000);
  assert.equal(l.rateRefused(17_500).pauseMs, 1000);
});

test("a refusal now and then between acceptances is one lesson per window, not a spiral", () => {
  // Every fifth message refused ("server busy"), at 20/s: our own pauses must not read as a lower allowance.
  const l = new LearnedLimits(20, 4, { decayMs: 60_000, windowMs: 10_000, margin: 0.9 });
  let t = 0;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 4; i++) l.accepted((t += 50));
    const r = l.rateRefused((t += 50));
    t += r.pauseMs;
  }
  assert.ok(l.rate >= 10, `rate ${l.rate}`);
  assert.ok(l.cuts <= 3, `cuts ${l.cuts}`);
});

test("with nothing accepted in the window, a rate refusal halves the rate", () => {
  const l = new LearnedLimits(20, 10, { decayMs: 60_000, windowMs: 10_000, margin: 0.9 });
  assert.equal(l.rateRefused(0).cut, true);
  assert.equal(l.rate, 10);
});

test("a learned rate creeps back by 10% per quiet period, up to the policy", () => {
  const l = new LearnedLimits(10, 10, { decayMs: 60_000, windowMs: 10_000, margin: 0.9 });
  l.rateRefused(0);
  assert.equal(l.rate, 5);
  l.decay(60_000);
  assert.ok(Math.abs(l.rate - 5.5) < 1e-9);
  l.decay(10_000_000);
  assert.equal(l.rate, 10);
  assert.equal(l.rateSource, "policy");
});

test("a new policy keeps learned limits unless it is lower", () => {
  const l = new LearnedLimits(50, 10);
  l.connectionRefused(0, 3);
  l.reconfigure(100, 20);
  assert.equal(l.connections, 3);
  assert.equal(l.rate, 100, "the rate was the policy's, so it follows the policy");
  l.reconfigure(100, 2);
  assert.equal(l.connections, 2);
});

test("tier queue puts a refused item back at the front of its tier", () => {
  const q = new TierQueue<string>();
  q.push("bulk", "b1");
  q.push("bulk", "b2");
  assert.equal(q.shift(), "b1");
  q.unshift("bulk", "b1");
  assert.deepEqual([q.shift(), q.shift(), q.shift()], ["b1", "b2", undefined]);
});

test("token bucket pause: nothing for that long, then the rate", () => {
  const b = new TokenBucket({ ratePerSecond: 5, burst: 5 }, 0);
  b.pause(0, 2000);
  assert.equal(b.waitMs(1000), 1000);
  assert.equal(b.tryTake(1999), false);
  assert.equal(b.tryTake(2000), true);
  assert.equal(b.tryTake(2000), false);
});
