import { test } from "node:test";
import assert from "node:assert/strict";
import { renderFrame } from "../../cli/top/render.ts";
import { ClusterAggregator, type ClusterStats, type DestinationView } from "../../protocol/telemetry/index.ts";
import { NodeStats, type DestinationStats } from "../../protocol/index.ts";

const tiers = { critical: 0, transactional: 0, bulk: 0 };
const dest = (o: Partial<DestinationView>): DestinationView => ({
  key: "x.test",
  nodeId: "n1",
  state: "sending",
  deliveredPerSecond: 0,
  ratePerSecond: 50,
  configuredRatePerSecond: 50,
  connections: 0,
  maxConnections: 10,
  queued: tiers,
  delivered: 0,
  deferred: 0,
  bounced: 0,
  throttleEvents: 0,
  ...o,
});

test("sluice top shows a destination's learned limits beside its policy's", () => {
  const stats: ClusterStats = {
    at: Date.UTC(2026, 0, 1),
    nodes: [],
    tiers: { critical: { queued: 0, inFlight: 0 }, transactional: { queued: 0, inFlight: 0 }, bulk: { queued: 0, inFlight: 0 } },
    destinations: [
      dest({ key: "postfix.test", state: "throttled", ratePerSecond: 4.5, connections: 2, connectionLimit: 3, connectionLimitSource: "learned", rateLimitSource: "learned", throttleEvents: 2 }),
      dest({ key: "healthy.test", connectionLimit: 10, connectionLimitSource: "policy", rateLimitSource: "policy" }),
    ],
    dlq: { messages: 0 },
    totals: { delivered: 0, deferred: 0, bounced: 0, deliveredPerSecond: 0, deferredPerSecond: 0, bouncedPerSecond: 0 },
    history: [],
  };
  const frame = renderFrame(stats);
  const row = frame.split("\n").find((l) => l.startsWith("postfix.test")) ?? "";
  assert.match(row, /throttled/);
  assert.match(row, /4\.5\/50\.0/);
  assert.match(row, /2\/3\/10/);
  const healthy = frame.split("\n").find((l) => l.startsWith("healthy.test")) ?? "";
  assert.match(healthy, /\b0\/10\b/);
  assert.match(frame, /learned\/policy/);
});

test("/v1/stats and sluice top receive a destination's learned limits through the cluster view", () => {
  const agg = new ClusterAggregator();
  const d: DestinationStats = {
    key: "postfix.test",
    state: "throttled",
    ratePerSecond: 4.5,
    configuredRatePerSecond: 50,
    connections: 3,
    maxConnections: 10,
    connectionLimit: 3,
    connectionLimitSource: "learned",
    rateLimitSource: "learned",
    throttleRefusals: 11,
    stateChanges: 2,
    queued: tiers,
    delivered: 10,
    deferred: 0,
    bounced: 0,
    throttleEvents: 2,
  };
  const snapshot: NodeStats = { v: 1, nodeId: "n1", at: 1000, startedAt: 0, partitions: [0], rssBytes: 1, inFlight: tiers, destinations: [d] };
  assert.ok(NodeStats.safeParse(snapshot).success, "the snapshot schema keeps the new fields");
  agg.ingest(NodeStats.parse(snapshot), 1000);
  const view = agg.snapshot(1000).destinations[0];
  assert.deepEqual(
    { connectionLimit: view?.connectionLimit, connectionLimitSource: view?.connectionLimitSource, rateLimitSource: view?.rateLimitSource, throttleRefusals: view?.throttleRefusals, stateChanges: view?.stateChanges },
    { connectionLimit: 3, connectionLimitSource: "learned", rateLimitSource: "learned", throttleRefusals: 11, stateChanges: 2 },
  );
});
