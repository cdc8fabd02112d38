import { metrics } from "@opentelemetry/api";
import type { NodeStats } from "../stats.ts";
import { TIERS, type TierName } from "../subjects.ts";

/**
 * Gauges read at scrape time from state the process keeps anyway: a node's own stats
 * snapshot, and the per-tier queue depth the gateway polls from JetStream. Register them
 * after `startTelemetry` (observable instruments bind to the provider of the moment).
 */

/** Destination and node gauges from this node's latest snapshot. */
export function observeNodeStats(snapshot: () => NodeStats | undefined): void {
  const m = metrics.getMeter("sluice");
  const connections = m.createObservableGauge("sluice_destination_connections", { description: "Open SMTP connections per destination" });
  const maxConnections = m.createObservableGauge("sluice_destination_max_connections", { description: "Connection limit per destination" });
  const rate = m.createObservableGauge("sluice_destination_rate_per_second", { description: "Current allowed send rate per destination, after throttling" });
  const state = m.createObservableGauge("sluice_destination_state", { description: "1 for the destination actor's current state" });
  const queued = m.createObservableGauge("sluice_destination_queued", { description: "Messages waiting in a destination actor, per tier" });
  const inFlight = m.createObservableGauge("sluice_node_in_flight", { description: "Messages this node holds unacknowledged, per tier" });
  const partitions = m.createObservableGauge("sluice_node_partitions", { description: "Partitions this node owns" });
  m.addBatchObservableCallback(
    (result) => {
      const s = snapshot();
      if (!s) return;
      result.observe(partitions, s.partitions.length);
      for (const tier of TIERS) result.observe(inFlight, s.inFlight[tier] ?? 0, { tier });
      for (const d of s.destinations) {
        const destination = d.key;
        result.observe(connections, d.connections, { destination });
        result.observe(maxConnections, d.maxConnections, { destination });
        result.observe(rate, d.ratePerSecond, { destination });
        result.observe(state, 1, { destination, state: d.state });
        for (const tier of TIERS) result.observe(queued, d.queued[tier] ?? 0, { destination, tier });
      }
    },
    [connections, maxConnections, rate, state, queued, inFlight, partitions],
  );
}

/** `sluice_queue_depth{tier}`: messages waiting in MAIL_SEND, from the latest poll. */
export function observeQueueDepth(depth: () => Partial<Record<TierName, number>> | undefined): void {
  const gauge = metrics.getMeter("sluice").createObservableGauge("sluice_queue_depth", { description: "Messages waiting in MAIL_SEND per tier" });
  gauge.addCallback((result) => {
    const d = depth();
    if (!d) return;
    for (const tier of TIERS) {
      const n = d[tier];
      if (n !== undefined) result.observe(n, { tier });
    }
  });
}
