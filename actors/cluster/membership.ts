import type { KV, KvEntry } from "@nats-io/kv";
import { watchBucket } from "./watch.ts";
import type { Logger } from "pino";
import { hostname } from "node:os";

/**
 * Node leases in the `sluice_nodes` KV bucket. Each node writes its own key every third of
 * the lease TTL; the bucket's TTL removes the key of a node that stopped writing. Liveness
 * is judged from the entries (server timestamp younger than the TTL), which only decides
 * who *should* own what: safety never depends on it (partition locks do that), so a clock
 * that is a little off only delays a rebalance.
 */

export interface NodeLease {
  id: string;
  host: string;
  pid: number;
  startedAt: number;
}

export interface LiveNode {
  id: string;
  lease: NodeLease | undefined;
  /** Server time of the last heartbeat. */
  heartbeatAt: number;
}

export interface Membership {
  /** Ids of the nodes whose lease is current, this node included while it heartbeats. */
  live(): string[];
  nodes(): LiveNode[];
  /** Delete this node's lease so that the others rebalance at once; heartbeats stop. */
  leave(): Promise<void>;
  stop(): void;
}

export interface MembershipOptions {
  kv: KV;
  nodeId: string;
  ttlMs: number;
  logger: Logger;
  /** Called whenever the set of live ids changes (joins, leaves, expiries). */
  onChange(): void;
}

export async function startMembership(o: MembershipOptions): Promise<Membership> {
  const lease: NodeLease = { id: o.nodeId, host: hostname(), pid: process.pid, startedAt: Date.now() };
  const entries = new Map<string, KvEntry>();
  const periodMs = Math.max(50, Math.floor(o.ttlMs / 3));
  let stopped = false;
  let left = false;
  let lastLive = "";
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let failures = 0;

  const live = (): string[] => {
    const now = Date.now();
    const ids: string[] = [];
    for (const [id, e] of entries) {
      if (e.operation === "PUT" && now - e.created.getTime() < o.ttlMs) ids.push(id);
    }
    return ids.sort();
  };
  const checkChange = (): void => {
    const key = live().join(",");
    if (key !== lastLive) {
      lastLive = key;
      o.onChange();
    }
  };

  const heartbeat = async (): Promise<void> => {
    if (stopped || left) return;
    try {
      await o.kv.put(o.nodeId, JSON.stringify(lease), { timeout: Math.max(200, Math.floor(o.ttlMs / 5)) });
      if (failures > 0) o.logger.info({ nodeId: o.nodeId, failures }, "node lease renewed again");
      failures = 0;
    } catch (e) {
      if (failures++ === 0) o.logger.warn({ err: e, nodeId: o.nodeId }, "cannot renew node lease; retrying");
    }
    checkChange(); // expiries show up here, the watch does not report them
    if (!stopped && !left) heartbeatTimer = setTimeout(() => void heartbeat(), failures > 0 ? Math.max(50, periodMs / 5) : periodMs);
  };

  await heartbeat();
  const watch = watchBucket(o.kv, periodMs, o.logger, "node leases", (e) => {
    entries.set(e.key, e);
    checkChange();
  });
  // Decide nothing before the other nodes' leases are known: a node that thought it was
  // alone would grab partitions only to hand them back a moment later.
  await Promise.race([watch.initialized, new Promise((r) => setTimeout(r, o.ttlMs))]);

  return {
    live,
    nodes: () =>
      live().map((id) => {
        const e = entries.get(id) as KvEntry;
        let parsed: NodeLease | undefined;
        try {
          parsed = e.json<NodeLease>();
        } catch {
          parsed = undefined; // a foreign value in the bucket: still a live key
        }
        return { id, lease: parsed, heartbeatAt: e.created.getTime() };
      }),
    leave: async () => {
      left = true;
      clearTimeout(heartbeatTimer);
      await o.kv.delete(o.nodeId).catch((e: unknown) => o.logger.warn({ err: e }, "could not delete node lease; it expires by itself"));
    },
    stop: () => {
      stopped = true;
      clearTimeout(heartbeatTimer);
      watch.stop();
    },
  };
}
