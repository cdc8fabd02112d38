import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KV_BUCKETS } from "../../protocol/index.ts";
import { listKeys } from "../../protocol/io/index.ts";
import type { NodeLease } from "./membership.ts";
import { parseLock, partitionOfKey } from "./ownership.ts";

/** The cluster as the KV buckets show it right now, for `sluice cluster` and dashboards. */
export interface ClusterStatus {
  leaseTtlMs: number;
  partitions: number;
  nodes: {
    id: string;
    host?: string;
    pid?: number;
    startedAt?: number;
    /** Time since the node's last heartbeat; undefined for a node whose lease is gone but whose locks are not. */
    leaseAgeMs?: number;
    partitions: number[];
  }[];
  /** Partitions with no current lock (free, or expired: about to be taken). */
  unowned: number[];
}

async function entries(kv: KV): Promise<KvEntry[]> {
  const out: KvEntry[] = [];
  for (const key of await listKeys(kv)) {
    const e = await kv.get(key);
    if (e?.operation === "PUT") out.push(e);
  }
  return out;
}

export async function readClusterStatus(nc: NatsConnection, partitions: number): Promise<ClusterStatus> {
  const kvm = new Kvm(nc);
  const nodesKv = await kvm.open(KV_BUCKETS.nodes);
  const locksKv = await kvm.open(KV_BUCKETS.partitions);
  const ttl = (await locksKv.status()).ttl;
  const now = Date.now();
  const fresh = (e: KvEntry): boolean => ttl <= 0 || now - e.created.getTime() < ttl;

  const nodes = new Map<string, ClusterStatus["nodes"][number]>();
  for (const e of await entries(nodesKv)) {
    if (!fresh(e)) continue;
    let lease: Partial<NodeLease> = {};
    try {
      lease = e.json<Partial<NodeLease>>();
    } catch {
      // a foreign value: show the key only
    }
    nodes.set(e.key, { id: e.key, host: lease.host, pid: lease.pid, startedAt: lease.startedAt, leaseAgeMs: now - e.created.getTime(), partitions: [] });
  }
  const owned = new Set<number>();
  for (const e of await entries(locksKv)) {
    const p = partitionOfKey(e.key);
    const lock = parseLock(e);
    if (p === undefined || lock === undefined || !fresh(e)) continue;
    owned.add(p);
    const node = nodes.get(lock.node) ?? { id: lock.node, partitions: [] };
    node.partitions.push(p);
    nodes.set(lock.node, node);
  }
  for (const n of nodes.values()) n.partitions.sort((a, b) => a - b);
  return {
    leaseTtlMs: ttl,
    partitions,
    nodes: [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id)),
    unowned: Array.from({ length: partitions }, (_, p) => p).filter((p) => !owned.has(p)),
  };
}

/** Compact ranges for people: [0,1,2,5,7,8] → "0-2,5,7-8". */
export function formatPartitions(ps: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < ps.length; ) {
    let j = i;
    while (j + 1 < ps.length && (ps[j + 1] as number) === (ps[j] as number) + 1) j++;
    parts.push(i === j ? `${ps[i]}` : `${ps[i]}-${ps[j]}`);
    i = j + 1;
  }
  return parts.join(",");
}
