import { test } from "node:test";
import assert from "node:assert/strict";
import { createActor, SimulatedClock } from "xstate";
import { Aimd } from "../../actors/domain/aimd.ts";
import { destinationMachine } from "../../actors/domain/machine.ts";
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

test("AIMD halves rate and connections on a throttle (once per cooldown) and restores them additively", () => {
  const a = new Aimd(50, 8, 1000);
  assert.equal(a.throttled(0), true);
  assert.equal(a.rate, 25);
  assert.equal(a.connections, 4);
  assert.equal(a.throttled(500), false, "inside the cooldown");
  assert.equal(a.throttled(1500), true);
  assert.equal(a.rate, 12.5);
  assert.equal(a.connections, 2);
  for (let i = 0; i < 1000; i++) a.succeeded();
  assert.equal(a.rate, 50);
  assert.equal(a.connections, 8);
  assert.equal(a.throttleEvents, 2);
});

function machine(clock: SimulatedClock) {
  const calls: string[] = [];
  const actor = createActor(destinationMachine, {
    clock,
    input: {
      suspendAfterFailures: 3,
      suspendMs: 10_000,
      throttlePauseMs: 1000,
      idleMs: 60_000,
      hooks: { suspended: () => calls.push("suspended"), resumed: () => calls.push("resumed") },
    },
  });
  actor.start();
  return { actor, calls, state: () => actor.getSnapshot().value };
}

test("destination machine: work, throttle pause, back to sending, drained to idle, retired when idle", () => {
  const clock = new SimulatedClock();
  const { actor, state } = machine(clock);
  assert.equal(state(), "idle");
  actor.send({ type: "WORK" });
  assert.equal(state(), "sending");
  actor.send({ type: "THROTTLED" });
  assert.equal(state(), "throttled");
  clock.increment(999);
  assert.equal(state(), "throttled");
  clock.increment(1);
  assert.equal(state(), "sending");
  actor.send({ type: "DRAINED" });
  assert.equal(state(), "idle");
  clock.increment(60_000);
  assert.equal(state(), "retired");
  assert.equal(actor.getSnapshot().status, "done");
});

test("destination machine: repeated connection failures open the circuit; a probe closes it", () => {
  const clock = new SimulatedClock();
  const { actor, calls, state } = machine(clock);
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  actor.send({ type: "SUCCESS" }); // a success in between resets the count
  actor.send({ type: "NETWORK_FAILURE" });
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "sending");
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  assert.deepEqual(calls, ["suspended"]);
  clock.increment(10_000);
  assert.equal(state(), "probing");
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  assert.deepEqual(calls, ["suspended", "suspended"]);
  clock.increment(10_000);
  actor.send({ type: "SUCCESS" });
  assert.equal(state(), "sending");
  assert.deepEqual(calls, ["suspended", "suspended", "resumed"]);
});

test("destination machine: a live policy change moves the circuit threshold", () => {
  const clock = new SimulatedClock();
  const { actor, state } = machine(clock);
  actor.send({ type: "RECONFIGURE", suspendAfterFailures: 1, suspendMs: 5000 });
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  clock.increment(5000);
  assert.equal(state(), "probing");
});
