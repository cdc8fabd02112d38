import { test } from "node:test";
import assert from "node:assert/strict";
import { TierQueue } from "../../actors/domain/tier-queue.ts";

type Item = { tenant: string; n: number };
const queue = (weights: Record<string, number> = {}) => new TierQueue<Item>({ tenantOf: (i) => i.tenant, weightOf: (t) => weights[t] ?? 1 });
const drain = (q: TierQueue<Item>, count = Infinity): string[] => {
  const out: string[] = [];
  for (let item = q.shift(); item !== undefined; item = q.shift()) {
    out.push(`${item.tenant}${item.n}`);
    if (out.length >= count) break;
  }
  return out;
};

test("within a tier, a tenant with a few messages is served between another's blast, not after it", () => {
  const q = queue();
  for (let n = 0; n < 1000; n++) q.push("bulk", { tenant: "a", n });
  for (let n = 0; n < 3; n++) q.push("bulk", { tenant: "b", n });
  const order = drain(q);
  assert.equal(order.length, 1003);
  // Round-robin: b's three go out within the first six, each tenant in its own order.
  assert.deepEqual(order.slice(0, 6), ["a0", "b0", "a1", "b1", "a2", "b2"]);
  assert.deepEqual(order.slice(6, 9), ["a3", "a4", "a5"]);
});

test("weights share a tier in proportion; the tier order still comes first", () => {
  const q = queue({ heavy: 3 });
  for (let n = 0; n < 300; n++) q.push("bulk", { tenant: "heavy", n });
  for (let n = 0; n < 300; n++) q.push("bulk", { tenant: "light", n });
  q.push("critical", { tenant: "light", n: 999 });
  const order = drain(q, 401);
  assert.equal(order[0], "light999", "critical before any bulk");
  const first400 = order.slice(1);
  const heavy = first400.filter((s) => s.startsWith("heavy")).length;
  assert.equal(heavy, 300, `weight 3 against 1: 3 of every 4 (got ${heavy} of 400)`);
});

test("a refused item goes back to the front of its tenant and is sent next; extract keeps the rest fair", () => {
  const q = queue();
  q.push("transactional", { tenant: "a", n: 0 });
  q.push("transactional", { tenant: "a", n: 1 });
  q.push("transactional", { tenant: "b", n: 0 });
  const first = q.shift();
  assert.deepEqual(first, { tenant: "a", n: 0 });
  q.unshift("transactional", first as Item);
  assert.deepEqual(drain(q), ["a0", "b0", "a1"]);
  for (let n = 0; n < 10; n++) q.push("bulk", { tenant: n % 2 ? "a" : "b", n });
  assert.equal(q.extract((i) => i.tenant === "b").length, 5);
  assert.equal(q.size, 5);
  assert.deepEqual(drain(q), ["a1", "a3", "a5", "a7", "a9"]);
});

test("the heaviest tenant of a tier gives up its newest item", () => {
  const q = queue();
  for (let n = 0; n < 5; n++) q.push("bulk", { tenant: "a", n });
  q.push("bulk", { tenant: "b", n: 0 });
  assert.deepEqual(q.heaviest("bulk"), { tenant: "a", size: 5 });
  assert.deepEqual(q.popNewest("bulk", "a"), { tenant: "a", n: 4 });
  assert.equal(q.sizeOfTenant("bulk", "a"), 4);
  assert.equal(q.heaviest("critical"), undefined);
});

test("an idle tenant saves no credit: rejoining, it takes its turn like the others", () => {
  const q = queue({ b: 2 });
  q.push("bulk", { tenant: "b", n: 0 });
  assert.equal(drain(q).length, 1);
  for (let n = 0; n < 4; n++) q.push("bulk", { tenant: "a", n });
  for (let n = 1; n < 5; n++) q.push("bulk", { tenant: "b", n });
  assert.deepEqual(drain(q, 6), ["a0", "b1", "b2", "a1", "b3", "b4"]);
});
