import { test } from "node:test";
import assert from "node:assert/strict";
import { assign, ownerOf, partitionsFor } from "../../actors/cluster/rendezvous.ts";

const nodes = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i + 1}`);

test("every node computes the same owner whatever order it lists the nodes in", () => {
  const list = nodes(5);
  for (let p = 0; p < 64; p++) {
    assert.equal(ownerOf(p, list), ownerOf(p, [...list].reverse()));
  }
});

test("the partitions of all nodes are disjoint and cover every partition", () => {
  const list = nodes(3);
  const seen = new Map<number, string>();
  for (const n of list) {
    for (const p of partitionsFor(n, 32, list)) {
      assert.ok(!seen.has(p), `partition ${p} given to ${seen.get(p)} and ${n}`);
      seen.set(p, n);
    }
  }
  assert.equal(seen.size, 32);
});

test("partitions spread roughly evenly over the nodes", () => {
  const list = nodes(4);
  const counts = new Map<string, number>();
  for (const owner of assign(1024, list).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  for (const n of list) {
    const c = counts.get(n) ?? 0;
    assert.ok(c > 1024 / 4 * 0.8 && c < 1024 / 4 * 1.2, `${n} got ${c} of 1024`);
  }
});

test("a joining node takes partitions only for itself; nothing else moves", () => {
  const before = assign(256, nodes(3));
  const after = assign(256, nodes(4));
  let moved = 0;
  for (const [p, owner] of after) {
    if (owner !== before.get(p)) {
      assert.equal(owner, "node-4", `partition ${p} moved between old nodes`);
      moved++;
    }
  }
  assert.ok(moved > 256 / 4 * 0.6 && moved < 256 / 4 * 1.4, `moved ${moved}`);
});

test("a leaving node's partitions are spread over the rest; nothing else moves", () => {
  const before = assign(256, nodes(4));
  const after = assign(256, nodes(4).filter((n) => n !== "node-2"));
  for (const [p, owner] of before) {
    if (owner !== "node-2") assert.equal(after.get(p), owner, `partition ${p} moved`);
    else assert.notEqual(after.get(p), "node-2");
  }
});

test("a node alone owns everything, also before it sees its own lease", () => {
  assert.deepEqual(partitionsFor("solo", 8, []), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(assign(8, []).size, 0);
});
