import { test } from "node:test";
import assert from "node:assert/strict";
import { ClusterAggregator, queueDepthBySubject } from "../../protocol/telemetry/cluster-aggregate.ts";
import type { DestinationStats, NodeStats } from "../../protocol/index.ts";

const dest = (key: string, delivered: number, extra: Partial<DestinationStats> = {}): DestinationStats => ({
  key,
  state: "sending",
  ratePerSecond: 10,
  configuredRatePerSecond: 10,
  connections: 1,
  maxConnections: 4,
  queued: { critical: 0, transactional: 1, bulk: 2 },
  delivered,
  deferred: 0,
  bounced: 0,
  throttleEvents: 0,
  ...extra,
});
const node = (nodeId: string, at: number, destinations: DestinationStats[]): NodeStats => ({
  v: 1,
  nodeId,
  at,
  startedAt: 0,
  partitions: [0, 1],
  rssBytes: 1000,
  inFlight: { critical: 1, transactional: 0, bulk: 3 },
  destinations,
});

test("delivery rate comes from the delta between a node's snapshots", () => {
  const agg = new ClusterAggregator();
  agg.ingest(node("a", 1000, [dest("gmail.com", 100), dest("yahoo.com", 5)]), 1000);
  agg.ingest(node("a", 3000, [dest("gmail.com", 140), dest("yahoo.com", 5)]), 3000);
  const s = agg.snapshot(3000);
  assert.equal(s.destinations[0]?.key, "gmail.com");
  assert.equal(s.destinations[0]?.deliveredPerSecond, 20);
  assert.equal(s.destinations[1]?.deliveredPerSecond, 0);
  assert.equal(s.totals.deliveredPerSecond, 20);
  assert.equal(s.totals.delivered, 145);
  assert.equal(s.tiers.bulk.inFlight, 3);
});

test("a restarted node's counters count from zero, never negative", () => {
  const agg = new ClusterAggregator();
  agg.ingest(node("a", 1000, [dest("x.com", 500)]), 1000);
  agg.ingest(node("a", 2000, [dest("x.com", 4)]), 2000);
  assert.equal(agg.snapshot(2000).destinations[0]?.deliveredPerSecond, 4);
});

test("nodes across the cluster add up; a silent node drops out", () => {
  const agg = new ClusterAggregator({ staleAfterMs: 5000 });
  agg.ingest(node("a", 1000, [dest("x.com", 1)]), 1000);
  agg.ingest(node("b", 1000, [dest("y.com", 1)]), 1000);
  agg.ingest(node("b", 7000, [dest("y.com", 1)]), 7000);
  const s = agg.snapshot(7000);
  assert.deepEqual(s.nodes.map((n) => n.nodeId), ["b"]);
  assert.deepEqual(s.destinations.map((d) => d.key), ["y.com"]);
});

test("history keeps one hour, no more", () => {
  const agg = new ClusterAggregator({ historyMs: 10_000, sampleEveryMs: 1000, staleAfterMs: 1e9 });
  agg.setQueueDepth({ critical: 1, transactional: 2, bulk: 3 });
  for (let t = 0; t < 50_000; t += 1000) agg.sample(t);
  const h = agg.snapshot(50_000).history;
  assert.ok(h.length <= 11 && h.length >= 10, `kept ${h.length}`);
  assert.deepEqual(h.at(-1)?.queued, { critical: 1, transactional: 2, bulk: 3 });
  assert.ok((h[0]?.at ?? 0) >= 39_000);
});

test("queue depth per tier from a subjects_filter answer", () => {
  assert.deepEqual(queueDepthBySubject({ "mail.send.bulk.0": 5, "mail.send.bulk.7": 2, "mail.send.critical.3": 1, "mail.send.weird.1": 9 }), {
    critical: 1,
    transactional: 0,
    bulk: 7,
  });
  assert.deepEqual(queueDepthBySubject(undefined), { critical: 0, transactional: 0, bulk: 0 });
});
