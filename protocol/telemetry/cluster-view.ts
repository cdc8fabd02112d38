import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { NodeStats, STATS_ALL, STATS_INTERVAL_MS } from "../stats.ts";
import { STREAMS, subjects } from "../subjects.ts";
import { ClusterAggregator, queueDepthBySubject, type AggregatorOptions, type ClusterStats } from "./cluster-aggregate.ts";
import { errorMessage } from "../errors.ts";

/**
 * A live view of the cluster for the gateway's /v1/stats, the dashboard and `sluice top`:
 * it listens to every node's stats snapshot on core NATS and asks JetStream for the
 * per-tier queue depth every interval, keeping a bounded history in memory.
 */
export interface ClusterView {
  current(withHistory?: boolean): ClusterStats;
  /** Poll JetStream and record a history point now (tests, `top --once`). */
  refresh(): Promise<void>;
  /** Resolves when every node heard from has sent two snapshots (rates known), or after `timeoutMs`. */
  settled(timeoutMs: number): Promise<void>;
  close(): void;
}

export interface ClusterViewOptions extends Partial<AggregatorOptions> {
  /** Poll and sample interval; default the nodes' publishing interval. */
  intervalMs?: number;
  /** Called with snapshots that fail validation (a bad publisher must not break the view). */
  onInvalid?: (subject: string, reason: string) => void;
  /** Do not poll or sample on a timer (for `top --once`, which refreshes by hand). */
  manual?: boolean;
}

export function watchCluster(nc: NatsConnection, options: ClusterViewOptions = {}): ClusterView {
  const intervalMs = options.intervalMs ?? STATS_INTERVAL_MS;
  const agg = new ClusterAggregator({ ...options, sampleEveryMs: intervalMs });
  const sub: Subscription = nc.subscribe(STATS_ALL, {
    callback: (err, msg) => {
      if (err) return;
      let parsed;
      try {
        parsed = NodeStats.safeParse(msg.json());
      } catch (e) {
        options.onInvalid?.(msg.subject, `not JSON: ${errorMessage(e)}`);
        return;
      }
      if (!parsed.success) {
        options.onInvalid?.(msg.subject, parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
        return;
      }
      agg.ingest(parsed.data, Date.now());
    },
  });

  let jsm: JetStreamManager | undefined;
  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling || nc.isClosed()) return;
    polling = true;
    try {
      jsm ??= await jetstreamManager(nc, { timeout: 2000 });
      const info = await jsm.streams.info(STREAMS.send, { subjects_filter: subjects.sendAll });
      agg.setQueueDepth(queueDepthBySubject(info.state.subjects));
      agg.setDeadLetters((await jsm.streams.info(STREAMS.dlq)).state.messages);
    } catch {
      // JetStream unreachable for a moment: keep the last depth; the next poll tries again.
    } finally {
      polling = false;
    }
  };
  const tick = async (): Promise<void> => {
    await poll();
    agg.sample(Date.now());
  };

  const timer = options.manual ? undefined : setInterval(() => void tick(), intervalMs);
  timer?.unref();
  if (!options.manual) void tick();

  return {
    current: (withHistory = true) => agg.snapshot(Date.now(), withHistory),
    refresh: tick,
    settled: async (timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const { nodes, withRates } = agg.nodesWithRates(Date.now());
        if (nodes > 0 && withRates === nodes) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => {
      if (timer) clearInterval(timer);
      sub.unsubscribe();
    },
  };
}
