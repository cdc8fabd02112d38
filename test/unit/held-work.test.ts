import { test } from "node:test";
import assert from "node:assert/strict";
import { HeldWork } from "../../actors/consumers/held-work.ts";
import type { Job } from "../../actors/domain/job.ts";

const job = (partition: number, tier: "critical" | "transactional" | "bulk"): Job => ({ partition, message: { tier } } as unknown as Job);

test("held work is counted per partition and tier, and a release wakes whoever waits for a change", async () => {
  const held = new HeldWork();
  const a = job(1, "bulk");
  const b = job(2, "critical");
  held.hold(a);
  held.hold(b);
  assert.equal(held.inPartitions([1, 2]), 2);
  assert.equal(held.inTier("bulk"), 1);
  let woke = false;
  const waiting = held.changed().then(() => (woke = true));
  held.hold(job(1, "bulk"));
  await Promise.resolve();
  assert.equal(woke, false, "a hold is no release");
  held.release(a);
  await waiting;
  assert.equal(woke, true);
  assert.equal(held.inPartitions([1]), 1);
  assert.deepEqual(held.byTier(), { critical: 1, transactional: 0, bulk: 1 });
});
