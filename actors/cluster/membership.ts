import type { KV, KvEntry } from "@nats-io/kv";
import { watchBucket, type BucketWatch } from "./watch.ts";
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
  const m = new NodeMembership(o);
  await m.join();
  return m;
}

/** This node's lease (renewed every third of the TTL) and the live leases it watches. */
class NodeMembership implements Membership {
  readonly #o: MembershipOptions;
  readonly #lease: NodeLease;
  readonly #entries = new Map<string, KvEntry>();
  readonly #periodMs: number;
  #stopped = false;
  #left = false;
  /** The live ids last reported, joined: onChange fires when this changes. */
  #lastLive = "";
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #watch: BucketWatch | undefined;

  constructor(o: MembershipOptions) {
    this.#o = o;
    this.#lease = { id: o.nodeId, host: hostname(), pid: process.pid, startedAt: Date.now() };
    this.#periodMs = Math.max(50, Math.floor(o.ttlMs / 3));
  }

  async join(): Promise<void> {
    await this.#heartbeat();
    this.#watch = watchBucket(this.#o.kv, this.#periodMs, this.#o.logger, "node leases", (e) => {
      this.#entries.set(e.key, e);
      this.#checkChange();
    });
    // Decide nothing before the other nodes' leases are known: a node that thought it was
    // alone would grab partitions only to hand them back a moment later.
    await Promise.race([this.#watch.initialized, new Promise((r) => setTimeout(r, this.#o.ttlMs))]);
  }

  live(): string[] {
    const now = Date.now();
    const ids: string[] = [];
    for (const [id, e] of this.#entries) {
      if (e.operation === "PUT" && now - e.created.getTime() < this.#o.ttlMs) ids.push(id);
    }
    return ids.sort();
  }

  nodes(): LiveNode[] {
    return this.live().map((id) => {
      const e = this.#entries.get(id) as KvEntry;
      let parsed: NodeLease | undefined;
      try {
        parsed = e.json<NodeLease>();
      } catch {
        parsed = undefined; // a foreign value in the bucket: still a live key
      }
      return { id, lease: parsed, heartbeatAt: e.created.getTime() };
    });
  }

  async leave(): Promise<void> {
    this.#left = true;
    clearTimeout(this.#heartbeatTimer);
    await this.#o.kv.delete(this.#o.nodeId).catch((e: unknown) => this.#o.logger.warn({ err: e }, "could not delete node lease; it expires by itself"));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#heartbeatTimer);
    this.#watch?.stop();
  }

  #checkChange(): void {
    const key = this.live().join(",");
    if (key === this.#lastLive) return;
    this.#lastLive = key;
    this.#o.onChange();
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopped || this.#left) return;
    const { kv, nodeId, ttlMs, logger } = this.#o;
    try {
      await kv.put(nodeId, JSON.stringify(this.#lease), { timeout: Math.max(200, Math.floor(ttlMs / 5)) });
      if (this.#failures > 0) logger.info({ nodeId, failures: this.#failures }, "node lease renewed again");
      this.#failures = 0;
    } catch (e) {
      if (this.#failures++ === 0) logger.warn({ err: e, nodeId }, "cannot renew node lease; retrying");
    }
    this.#checkChange(); // expiries show up here, the watch does not report them
    if (this.#stopped || this.#left) return;
    this.#heartbeatTimer = setTimeout(() => void this.#heartbeat(), this.#failures > 0 ? Math.max(50, this.#periodMs / 5) : this.#periodMs);
  }
}
