import { test } from "node:test";
import assert from "node:assert/strict";
import { maxAttempts, retryDelay } from "../../protocol/index.ts";

const H = 3_600_000;
const policy = { scheduleMs: [60_000, 300_000, 900_000, 1_800_000, H, 2 * H, 4 * H, 8 * H], maxAgeMs: 72 * H, jitter: 0 };

test("the schedule is followed, then its last step repeats", () => {
  assert.equal(retryDelay(policy, 1), 60_000);
  assert.equal(retryDelay(policy, 2), 300_000);
  assert.equal(retryDelay(policy, 8), 8 * H);
  assert.equal(retryDelay(policy, 30), 8 * H);
});

test("jitter stays within its fraction", () => {
  const j = { ...policy, jitter: 0.2 };
  assert.equal(retryDelay(j, 1, 0), 48_000);
  assert.equal(retryDelay(j, 1, 0.5), 60_000);
  assert.ok(retryDelay(j, 1, 0.999999) <= 72_000);
});

test("maxAttempts counts what fits in the max age", () => {
  // 1m+5m+15m+30m+1h+2h+4h+8h = 15h51m; then 8h steps: 7 more fit in 72h.
  assert.equal(maxAttempts(policy), 16);
  assert.equal(maxAttempts({ scheduleMs: [1000], maxAgeMs: 5000, jitter: 0 }), 6);
});
