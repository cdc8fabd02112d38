import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { ApplyLoop } from "../../actors/cluster/apply-loop.ts";
import { desiredPartitions, planLocks, type LockState } from "../../actors/cluster/assignment.ts";

const logger = pino({ level: "silent" });

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function loop(desired: () => number[], apply: (set: number[]) => Promise<void>): ApplyLoop {
  return new ApplyLoop({ desired, apply, applied: () => undefined, logger, slowAfterMs: 60_000, retryMinMs: 5, retryMaxMs: 40 });
}

test("a partition change the node fails to apply is retried until it is applied", async () => {
  const calls: number[][] = [];
  let failuresLeft = 3;
  const l = loop(() => [1, 2], async (set) => {
    calls.push(set);
    if (failuresLeft-- > 0) throw new Error("TimeoutError: consumer info timed out");
  });
  l.request();
  await until("the change to be applied", () => l.settled());
  assert.deepEqual(calls, [[1, 2], [1, 2], [1, 2], [1, 2]]);
  l.stop();
});

test("a released partition counts as drained only after a later call without it succeeded", async () => {
  let desired = [1, 2];
  let fail = false;
  let failed = 0;
  const l = loop(() => desired, async () => {
    if (fail) {
      failed++;
      throw new Error("no");
    }
  });
  l.request();
  await until("first set applied", () => l.settled());
  const since = l.generation;
  desired = [1];
  fail = true;
  l.request();
  await until("the change to fail, and be retried and fail again", () => failed >= 2);
  assert.equal(l.drained(2, since), false, "not drained while the change keeps failing");
  fail = false;
  await until("second set applied", () => l.settled());
  assert.equal(l.drained(2, since), true);
  assert.equal(l.drained(1, since), false);
  l.stop();
});

test("the newest desired set is applied, even if it changed while a call ran", async () => {
  let desired = [1];
  const calls: number[][] = [];
  const l = loop(() => desired, async (set) => {
    calls.push(set);
    desired = [3];
    await new Promise((r) => setTimeout(r, 10));
  });
  l.request();
  await until("the node to consume [3]", () => l.settled());
  assert.deepEqual(calls.at(-1), [3]);
  l.stop();
});

test("the lock plan gives up what is not wanted, keeps what is wanted again, and acquires the rest", () => {
  const held = new Map<number, LockState>([
    [0, "owned"],
    [1, "owned"],
    [2, "releasing"],
    [3, "fenced"],
  ]);
  const plan = planLocks(new Set([1, 2, 3, 4, 5]), held, new Set([5]));
  assert.deepEqual(plan, { disown: [0], reown: [2], acquire: [4] });
  assert.deepEqual([...desiredPartitions("a", 8, ["a"], true)], []);
  assert.equal(desiredPartitions("a", 8, ["a"], false).size, 8);
});
