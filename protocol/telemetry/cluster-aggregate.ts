import type { DestinationStats, NodeStats, SourceStats } from "../stats.ts";
import { TIERS, type TierName } from "../subjects.ts";

/**
 * The cluster as an operator sees it, built from the nodes' stats snapshots and the
 * per-tier queue depth in JetStream. Pure (time comes in as arguments), so the rules —
 * rates from counter deltas, a silent node dropped, history bounded — are unit-tested.
 */

export type TierCounts = Record<TierName, number>;

export interface DestinationView {
  key: string;
  nodeId: string;
  state: string;
  partition?: number;
  /** Delivered messages per second, measured between the node's last two snapshots. */
  deliveredPerSecond: number;
  ratePerSecond: number;
  configuredRatePerSecond: number;
  connections: number;
  maxConnections: number;
  queued: TierCounts;
  delivered: number;
  deferred: number;
  bounced: number;
  throttleEvents: number;
  connectionLimit?: number;
  connectionLimitSource?: "policy" | "learned";
  rateLimitSource?: "policy" | "learned";
  throttleRefusals?: number;
  stateChanges?: number;
  /** Egress sources that sent to this destination: volume, warm-up day and what is left of today's cap. */
  sources?: SourceStats[];
}

export interface NodeView {
  nodeId: string;
  at: number;
  startedAt: number;
  partitions: number;
  rssBytes: number;
  inFlight: TierCounts;
}

export interface ClusterSample {
  at: number;
  /** Messages waiting in MAIL_SEND per tier (undefined until JetStream answered once). */
  queued: TierCounts | undefined;
  deliveredPerSecond: number;
  deferredPerSecond: number;
  bouncedPerSecond: number;
  /** Delivered per second of the busiest destinations at that moment. */
  destinations: Record<string, number>;
}

export interface ClusterStats {
  at: number;
  nodes: NodeView[];
  tiers: Record<TierName, { queued: number | undefined; inFlight: number }>;
  destinations: DestinationView[];
  /** Dead letters kept in MAIL_DLQ (undefined until JetStream answered once). */
  dlq: { messages: number | undefined };
  /** Per tenant, what the live nodes hold unacknowledged (the tenants' backlog in delivery). */
  tenantsInFlight?: Record<string, number>;
  totals: { delivered: number; deferred: number; bounced: number; deliveredPerSecond: number; deferredPerSecond: number; bouncedPerSecond: number };
  history: ClusterSample[];
}

export interface AggregatorOptions {
  /** A node not heard from for this long is left out. */
  staleAfterMs: number;
  /** How much history to keep, and how far apart samples are. */
  historyMs: number;
  sampleEveryMs: number;
  /** Destinations kept per history sample (the busiest). */
  destinationsPerSample: number;
}

export const DEFAULT_AGGREGATOR_OPTIONS: AggregatorOptions = {
  staleAfterMs: 10_000,
  historyMs: 3_600_000,
  sampleEveryMs: 2_000,
  destinationsPerSample: 8,
};

interface NodeEntry {
  latest: NodeStats;
  receivedAt: number;
  /** Per destination: delta rates between the last two snapshots. */
  rates: Map<string, { delivered: number; deferred: number; bounced: number }>;
}

const zeroTiers = (): TierCounts => ({ critical: 0, transactional: 0, bulk: 0 });

function perSecond(now: number, before: number, dtMs: number): number {
  // A node restart resets its counters: count from zero rather than going negative.
  const delta = now >= before ? now - before : now;
  return dtMs > 0 ? (delta * 1000) / dtMs : 0;
}

export class ClusterAggregator {
  readonly #nodes = new Map<string, NodeEntry>();
  readonly #history: ClusterSample[] = [];
  #queued: TierCounts | undefined;
  #dlq: number | undefined;
  readonly #options: AggregatorOptions;

  constructor(options: Partial<AggregatorOptions> = {}) {
    this.#options = { ...DEFAULT_AGGREGATOR_OPTIONS, ...options };
  }

  ingest(stats: NodeStats, receivedAt: number): void {
    const prev = this.#nodes.get(stats.nodeId);
    if (prev && stats.at <= prev.latest.at) return; // out of order or repeated
    const rates = new Map<string, { delivered: number; deferred: number; bounced: number }>();
    if (prev) {
      const dt = stats.at - prev.latest.at;
      const before = new Map(prev.latest.destinations.map((d) => [d.key, d] as const));
      for (const d of stats.destinations) {
        const b: Pick<DestinationStats, "delivered" | "deferred" | "bounced"> = before.get(d.key) ?? { delivered: 0, deferred: 0, bounced: 0 };
        rates.set(d.key, {
          delivered: perSecond(d.delivered, b.delivered, dt),
          deferred: perSecond(d.deferred, b.deferred, dt),
          bounced: perSecond(d.bounced, b.bounced, dt),
        });
      }
    }
    this.#nodes.set(stats.nodeId, { latest: stats, receivedAt, rates });
  }

  setQueueDepth(queued: TierCounts): void {
    this.#queued = queued;
  }

  setDeadLetters(messages: number): void {
    this.#dlq = messages;
  }

  /** Live nodes (stale ones are forgotten). */
  #live(now: number): NodeEntry[] {
    for (const [id, n] of this.#nodes) if (now - n.receivedAt > this.#options.staleAfterMs) this.#nodes.delete(id);
    return [...this.#nodes.values()];
  }

  #destinations(now: number): DestinationView[] {
    const out: DestinationView[] = [];
    for (const n of this.#live(now)) {
      for (const d of n.latest.destinations) {
        const view: DestinationView = {
          key: d.key,
          nodeId: n.latest.nodeId,
          state: d.state,
          deliveredPerSecond: n.rates.get(d.key)?.delivered ?? 0,
          ratePerSecond: d.ratePerSecond,
          configuredRatePerSecond: d.configuredRatePerSecond,
          connections: d.connections,
          maxConnections: d.maxConnections,
          queued: { ...zeroTiers(), ...d.queued },
          delivered: d.delivered,
          deferred: d.deferred,
          bounced: d.bounced,
          throttleEvents: d.throttleEvents,
        };
        if (d.partition !== undefined) view.partition = d.partition;
        if (d.connectionLimit !== undefined) view.connectionLimit = d.connectionLimit;
        if (d.connectionLimitSource !== undefined) view.connectionLimitSource = d.connectionLimitSource;
        if (d.rateLimitSource !== undefined) view.rateLimitSource = d.rateLimitSource;
        if (d.throttleRefusals !== undefined) view.throttleRefusals = d.throttleRefusals;
        if (d.stateChanges !== undefined) view.stateChanges = d.stateChanges;
        if (d.sources !== undefined) view.sources = d.sources;
        out.push(view);
      }
    }
    return out.sort((a, b) => b.deliveredPerSecond - a.deliveredPerSecond || b.delivered - a.delivered || a.key.localeCompare(b.key));
  }

  #rates(now: number): { delivered: number; deferred: number; bounced: number } {
    const sum = { delivered: 0, deferred: 0, bounced: 0 };
    for (const n of this.#live(now)) {
      for (const r of n.rates.values()) {
        sum.delivered += r.delivered;
        sum.deferred += r.deferred;
        sum.bounced += r.bounced;
      }
    }
    return sum;
  }

  /** Record one history point; the oldest fall off past `historyMs`. */
  sample(now: number): ClusterSample {
    const rates = this.#rates(now);
    const destinations: Record<string, number> = {};
    for (const d of this.#destinations(now).slice(0, this.#options.destinationsPerSample)) {
      destinations[d.key] = (destinations[d.key] ?? 0) + d.deliveredPerSecond;
    }
    const s: ClusterSample = {
      at: now,
      queued: this.#queued ? { ...this.#queued } : undefined,
      deliveredPerSecond: rates.delivered,
      deferredPerSecond: rates.deferred,
      bouncedPerSecond: rates.bounced,
      destinations,
    };
    this.#history.push(s);
    const max = Math.ceil(this.#options.historyMs / this.#options.sampleEveryMs);
    if (this.#history.length > max) this.#history.splice(0, this.#history.length - max);
    while (this.#history.length > 0 && (this.#history[0]?.at ?? now) < now - this.#options.historyMs) this.#history.shift();
    return s;
  }

  snapshot(now: number, withHistory = true): ClusterStats {
    const live = this.#live(now);
    const destinations = this.#destinations(now);
    const rates = this.#rates(now);
    const tiers = {} as ClusterStats["tiers"];
    for (const tier of TIERS) {
      tiers[tier] = { queued: this.#queued?.[tier], inFlight: live.reduce((s, n) => s + (n.latest.inFlight[tier] ?? 0), 0) };
    }
    return {
      at: now,
      nodes: live
        .map((n) => ({
          nodeId: n.latest.nodeId,
          at: n.latest.at,
          startedAt: n.latest.startedAt,
          partitions: n.latest.partitions.length,
          rssBytes: n.latest.rssBytes,
          inFlight: { ...zeroTiers(), ...n.latest.inFlight },
        }))
        .sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
      tiers,
      destinations,
      dlq: { messages: this.#dlq },
      tenantsInFlight: sumTenants(live.map((n) => n.latest.tenantsInFlight ?? {})),
      totals: {
        delivered: destinations.reduce((s, d) => s + d.delivered, 0),
        deferred: destinations.reduce((s, d) => s + d.deferred, 0),
        bounced: destinations.reduce((s, d) => s + d.bounced, 0),
        deliveredPerSecond: rates.delivered,
        deferredPerSecond: rates.deferred,
        bouncedPerSecond: rates.bounced,
      },
      history: withHistory ? [...this.#history] : [],
    };
  }

  /** How many snapshots have been seen from each live node's current run (for `top --once`). */
  nodesWithRates(now: number): { nodes: number; withRates: number } {
    const live = this.#live(now);
    return { nodes: live.length, withRates: live.filter((n) => n.rates.size > 0 || n.latest.destinations.length === 0).length };
  }
}

function sumTenants(perNode: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of perNode) for (const [tenant, n] of Object.entries(counts)) out[tenant] = (out[tenant] ?? 0) + n;
  return out;
}

/** Sum a `subjects_filter` answer (`mail.send.<tier>.<partition>` → count) per tier. */
export function queueDepthBySubject(subjectCounts: Record<string, number> | undefined): TierCounts {
  const out = zeroTiers();
  for (const [subject, count] of Object.entries(subjectCounts ?? {})) {
    const tier = subject.split(".")[2];
    const known = TIERS.find((t) => t === tier);
    if (known) out[known] += count;
  }
  return out;
}
