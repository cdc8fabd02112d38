import { test } from "node:test";
import assert from "node:assert/strict";
import { createActor, SimulatedClock } from "xstate";
import { destinationMachine, stateName, type DestinationEmitted } from "../../actors/domain/machine.ts";

// The destination machine alone: no queue, no SMTP, time from xstate's SimulatedClock.

function machine(o: { suspendAfterFailures?: number } = {}) {
  const clock = new SimulatedClock();
  const actor = createActor(destinationMachine, {
    clock,
    input: { suspendAfterFailures: o.suspendAfterFailures ?? 3, suspendMs: 10_000, quietMs: 5000, idleMs: 60_000 },
  });
  const emitted: DestinationEmitted["type"][] = [];
  for (const type of ["suspended", "resumed", "throttled", "recovered", "canSend"] as const) actor.on(type, (e) => emitted.push(e.type));
  actor.start();
  const snap = () => actor.getSnapshot();
  return { actor, clock, emitted, state: () => stateName(snap()), snap };
}

test("idle: accepts and may send; WORK starts sending; retires after idleMs", () => {
  const { actor, clock, state, snap, emitted } = machine();
  assert.equal(state(), "idle");
  assert.ok(snap().hasTag("canSend") && snap().hasTag("accepting") && snap().hasTag("waitsForWork"));
  assert.ok(!snap().hasTag("drains"));
  actor.send({ type: "WORK" });
  assert.equal(state(), "sending");
  assert.ok(snap().hasTag("drains") && !snap().hasTag("waitsForWork"));
  assert.deepEqual(emitted, ["canSend"]);
  actor.send({ type: "DRAINED" });
  assert.equal(state(), "idle");
  clock.increment(59_999);
  assert.equal(state(), "idle");
  clock.increment(1);
  assert.equal(state(), "retired");
  assert.equal(snap().status, "done");
});

test("sending permits the learned concurrency (no cap of its own)", () => {
  const { actor, snap } = machine();
  actor.send({ type: "WORK" });
  assert.equal(snap().context.concurrency, Infinity);
  assert.ok(snap().hasTag("canSend"));
});

test("throttled keeps sending and accepting; each refusal restarts the quiet period; quiet returns to sending", () => {
  const { actor, clock, state, snap, emitted } = machine();
  actor.send({ type: "WORK" });
  actor.send({ type: "THROTTLED" });
  assert.equal(state(), "throttled");
  assert.ok(snap().hasTag("canSend") && snap().hasTag("accepting"), "throttled still sends, at the learned pace");
  clock.increment(4000);
  actor.send({ type: "THROTTLED" });
  clock.increment(4000);
  assert.equal(state(), "throttled", "the second refusal restarted the quiet period");
  clock.increment(1000);
  assert.equal(state(), "sending");
  assert.deepEqual(emitted, ["canSend", "throttled", "recovered"], "one throttled period, however many refusals");
});

test("throttle replies never open the circuit, however many", () => {
  const { actor, state } = machine({ suspendAfterFailures: 1 });
  actor.send({ type: "WORK" });
  for (let i = 0; i < 100; i++) actor.send({ type: "THROTTLED" });
  assert.equal(state(), "throttled");
});

test("consecutive network failures open the circuit from sending or throttled; an answer in between resets the count", () => {
  const { actor, state, snap, emitted } = machine();
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  actor.send({ type: "SUCCESS" });
  actor.send({ type: "NETWORK_FAILURE" });
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "sending");
  assert.equal(snap().context.failures, 2);
  actor.send({ type: "THROTTLED" }); // the destination answered: it is reachable
  assert.equal(snap().context.failures, 0);
  actor.send({ type: "NETWORK_FAILURE" });
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "throttled");
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  assert.ok(!snap().hasTag("canSend") && !snap().hasTag("accepting"));
  assert.ok(emitted.includes("suspended"));
});

test("suspended → probing after suspendMs; probing sends one at a time", () => {
  const { actor, clock, state, snap } = machine({ suspendAfterFailures: 1 });
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  actor.send({ type: "SUCCESS" }); // late results of sends already under way change nothing
  assert.equal(state(), "suspended");
  clock.increment(9999);
  assert.equal(state(), "suspended");
  clock.increment(1);
  assert.equal(state(), "probing");
  assert.equal(snap().context.concurrency, 1);
  assert.ok(snap().hasTag("canSend") && snap().hasTag("probe"));
});

test("probing: a failure suspends again, a success closes the circuit, a throttle reply closes it into throttled", () => {
  const { actor, clock, state, snap, emitted } = machine({ suspendAfterFailures: 1 });
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  clock.increment(10_000);
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  assert.deepEqual(emitted.filter((e) => e === "suspended").length, 2);
  clock.increment(10_000);
  actor.send({ type: "SUCCESS" });
  assert.equal(state(), "sending");
  assert.equal(snap().context.concurrency, Infinity);
  assert.deepEqual(emitted.slice(-2), ["resumed", "canSend"], "closing the circuit lets the queue pump");

  actor.send({ type: "NETWORK_FAILURE" });
  clock.increment(10_000);
  actor.send({ type: "THROTTLED" });
  assert.equal(state(), "throttled");
  assert.equal(snap().context.concurrency, Infinity);
});

test("probing with nothing left to send goes idle", () => {
  const { actor, clock, state, snap } = machine({ suspendAfterFailures: 1 });
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  clock.increment(10_000);
  actor.send({ type: "DRAINED" });
  assert.equal(state(), "idle");
  assert.equal(snap().context.concurrency, Infinity);
});

test("a live policy change moves the circuit threshold and the suspension", () => {
  const { actor, clock, state } = machine();
  actor.send({ type: "RECONFIGURE", suspendAfterFailures: 1, suspendMs: 5000 });
  actor.send({ type: "WORK" });
  actor.send({ type: "NETWORK_FAILURE" });
  assert.equal(state(), "suspended");
  clock.increment(5000);
  assert.equal(state(), "probing");
});
