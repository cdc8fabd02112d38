import { randomUUID } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { KV_BUCKETS, type Config } from "../../protocol/index.ts";
import { startMembership } from "./membership.ts";
import { partitionsFor } from "./rendezvous.ts";
import { watchBucket } from "./watch.ts";

/**
 * Partition ownership. A node consumes a partition only while it holds that partition's
 * lock, a key in the `sluice_partitions` bucket (TTL = lease TTL):
 *
 *  - acquire: create the key (fails while anyone else holds it);
 *  - keep: rewrite it every TTL/3 with compare-and-set on the revision we wrote last;
 *  - release: stop consuming, let in-flight work settle (onChange resolves), then delete
 *    the key, again guarded by our last revision;
 *  - fence: a lock we could not rewrite for 60% of the TTL is treated as lost at once,
 *    because from TTL on the server may expire it and another node may create it. The
 *    remaining 40% is the time the node has to stop pulling. If a late rewrite succeeds
 *    after all, the compare-and-set proves nobody took it in between and we resume.
 *
 * Which partitions a node *tries* to hold comes from rendezvous hashing over the live
 * node leases; only the locks make two owners impossible.
 */

export type OwnershipEventType = "acquired" | "released" | "fenced" | "restored" | "lost";
export interface OwnershipEvent {
  type: OwnershipEventType;
  partition: number;
  nodeId: string;
}

export interface OwnershipHooks {
  /**
   * The partitions to consume now. Awaited before the locks of removed partitions are
   * released. Calls come one at a time, except that a fence calls at once even while an
   * earlier call still runs: the newest call's set is the one that counts, and stopping a
   * partition must not wait for an earlier call to finish.
   */
  onChange(owned: number[]): Promise<void>;
  onEvent?(event: OwnershipEvent): void;
}

export interface Ownership {
  readonly nodeId: string;
  /** Partitions this node may consume right now (locked, not fenced, not being released). */
  owned(): number[];
  /** Live node ids as this node sees them. */
  liveNodes(): string[];
  /** Hand every partition over (drain, release) and leave the cluster. */
  stop(): Promise<void>;
}

export interface LockValue {
  node: string;
  /** Random per process: a restarted node with the same id never mistakes an old lock for its own. */
  instance: string;
  at: number;
}

export function parseLock(e: KvEntry): LockValue | undefined {
  try {
    const v = e.json<Partial<LockValue>>();
    return typeof v.node === "string" && typeof v.instance === "string" && typeof v.at === "number" ? (v as LockValue) : undefined;
  } catch {
    return undefined;
  }
}

export const FENCE_FRACTION = 0.6;
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);
const isCasFailure = (e: unknown): boolean => e instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.has(e.code);
export const partitionKey = (p: number): string => `p${p}`;
export const partitionOfKey = (key: string): number | undefined => (/^p(\d+)$/.test(key) ? Number(key.slice(1)) : undefined);

type LockState = "owned" | "releasing" | "fenced";
interface Lock {
  state: LockState;
  revision: number;
  /** Local time just before the last write the server confirmed: the lock lives at least TTL from here. */
  okSentAt: number;
  nextRefreshAt: number;
  refreshing: boolean;
  deleting: boolean;
  /** The publish generation at which it left the owned set; drained once a later one resolved. */
  releasedAtGen: number;
  drained: boolean;
}

const meter = metrics.getMeter("sluice");
const fencesCounter = meter.createCounter("sluice_cluster_fences", { description: "Partition locks given up because they could not be renewed in time" });
const handoverCounter = meter.createCounter("sluice_cluster_partition_changes", { description: "Partition lock acquisitions and releases" });
const ownedGauge = meter.createObservableGauge("sluice_cluster_partitions_owned", { description: "Partitions this node consumes" });

export async function startOwnership(nc: NatsConnection, config: Pick<Config, "nodeId" | "leaseTtlMs" | "partitions">, logger: Logger, hooks: OwnershipHooks): Promise<Ownership> {
  const kvm = new Kvm(nc);
  const locksKv = await kvm.open(KV_BUCKETS.partitions);
  const nodesKv = await kvm.open(KV_BUCKETS.nodes);
  const ttl = await effectiveTtl(config.leaseTtlMs, [locksKv, nodesKv], logger);
  const self = config.nodeId;
  const log = logger.child({ nodeId: self });
  const refreshEvery = Math.max(30, Math.floor(ttl / 3));
  const retryEvery = Math.max(20, Math.floor(ttl / 15));
  const requestTimeout = Math.max(100, Math.floor(ttl / 6));
  const fenceAfter = ttl * FENCE_FRACTION;
  const tickEvery = Math.max(10, Math.floor(ttl / 25));

  const locks = new Map<number, Lock>();
  const acquiring = new Set<number>();
  const nextTryAt = new Map<number, number>();
  const view = new Map<number, KvEntry>();
  let stopping = false;
  let stopped = false;
  let wake: () => void = () => undefined;

  const emit = (type: OwnershipEventType, partition: number): void => {
    if (type === "acquired" || type === "released") handoverCounter.add(1, { change: type });
    if (type === "fenced") fencesCounter.add(1);
    const level = type === "fenced" || type === "lost" ? "warn" : "info";
    log[level]({ partition }, `partition ${type}`);
    try {
      hooks.onEvent?.({ type, partition, nodeId: self });
    } catch (e) {
      log.error({ err: e }, "ownership event hook threw");
    }
  };

  const owned = (): number[] => [...locks].filter(([, l]) => l.state === "owned").map(([p]) => p).sort((a, b) => a - b);
  const observeOwned = (r: { observe(v: number): void }) => r.observe(owned().length);
  ownedGauge.addCallback(observeOwned);

  // --- telling the node: serialized, always the latest set -------------------------------
  let gen = 0;
  let publishing = false;
  let dirty = false;
  const publish = (urgent = false): void => {
    dirty = true;
    if (!publishing) void runPublish();
    else if (urgent) {
      // A fenced partition must stop now, not after a hand-over that may wait for slow
      // SMTP sessions: tell the node at once, out of turn. It does not count for draining.
      const set = owned();
      hooks.onChange(set).catch((e: unknown) => log.error({ err: e, owned: set }, "node failed to apply partition change"));
    }
  };
  const runPublish = async (): Promise<void> => {
    publishing = true;
    while (dirty) {
      dirty = false;
      const myGen = ++gen;
      const set = owned();
      // A hand-over waits for in-flight SMTP sessions; one that takes much longer than the
      // lease TTL holds every later change back, which someone should hear about.
      const slow = setInterval(() => log.warn({ owned: set, waitedMs: Date.now() - since }, "node still applying a partition change"), Math.max(1000, ttl));
      const since = Date.now();
      try {
        await hooks.onChange(set);
      } catch (e) {
        log.error({ err: e, owned: set }, "node failed to apply partition change");
      } finally {
        clearInterval(slow);
      }
      for (const [p, l] of locks) if (l.state === "releasing" && l.releasedAtGen < myGen && !set.includes(p)) l.drained = true;
      wake();
    }
    publishing = false;
  };

  const setState = (p: number, l: Lock, state: LockState): void => {
    if (l.state === state) return;
    const wasOwned = l.state === "owned";
    if (wasOwned) l.releasedAtGen = gen;
    l.state = state;
    l.drained = false;
    publish(wasOwned && state === "fenced");
  };

  // --- lock operations -----------------------------------------------------------------
  const instance = randomUUID();
  const lockValue = (): string => JSON.stringify({ node: self, instance, at: Date.now() } satisfies LockValue);

  const refresh = async (p: number, l: Lock): Promise<void> => {
    l.refreshing = true;
    const sentAt = Date.now();
    try {
      l.revision = await locksKv.update(partitionKey(p), lockValue(), l.revision, requestTimeout);
      l.okSentAt = sentAt;
      l.nextRefreshAt = sentAt + refreshEvery;
      if (l.state === "fenced" && Date.now() - sentAt < fenceAfter && !stopping) {
        setState(p, l, "owned");
        emit("restored", p);
      }
    } catch (e) {
      if (isCasFailure(e)) {
        // A write of ours that timed out may have landed after all: then the key still
        // carries this instance's mark and we go on from its revision (okSentAt unchanged).
        const current = await locksKv.get(partitionKey(p)).catch(() => null);
        if (current?.operation === "PUT" && parseLock(current)?.instance === instance) {
          l.revision = current.revision;
          l.nextRefreshAt = Date.now();
          return;
        }
        // Someone else wrote the key: it expired on us. Fencing should have come first.
        locks.delete(p);
        if (l.state === "owned") publish(true);
        emit("lost", p);
      } else {
        l.nextRefreshAt = Date.now() + retryEvery;
      }
    } finally {
      l.refreshing = false;
    }
  };

  const acquire = async (p: number): Promise<void> => {
    acquiring.add(p);
    const key = partitionKey(p);
    let sentAt = Date.now();
    try {
      let revision: number;
      try {
        revision = await locksKv.put(key, lockValue(), { previousSeq: 0, timeout: requestTimeout });
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        // The key exists: free only if its last entry is a delete marker.
        const current = await locksKv.get(key);
        if (current === null || current.operation === "PUT") {
          if (current) view.set(p, current);
          nextTryAt.set(p, Date.now() + refreshEvery);
          return;
        }
        sentAt = Date.now();
        revision = await locksKv.put(key, lockValue(), { previousSeq: current.revision, timeout: requestTimeout });
      }
      // An answer that took longer than the fence allows (a request stuck in a network
      // partition, delivered late) gives a lock we cannot trust to live long enough.
      const late = Date.now() - sentAt >= fenceAfter;
      const l: Lock = { state: late ? "fenced" : "releasing", revision, okSentAt: sentAt, nextRefreshAt: sentAt + refreshEvery, refreshing: false, deleting: false, releasedAtGen: gen, drained: true };
      locks.set(p, l);
      emit("acquired", p);
      // Still wanted? Otherwise it is released straight away without ever being consumed.
      if (!late && !stopping && desired().has(p)) setState(p, l, "owned");
    } catch (e) {
      if (!isCasFailure(e)) log.debug({ err: e, partition: p }, "partition lock attempt failed");
      nextTryAt.set(p, Date.now() + retryEvery);
    } finally {
      acquiring.delete(p);
      wake();
    }
  };

  const release = async (p: number, l: Lock): Promise<void> => {
    l.deleting = true;
    try {
      await locksKv.delete(partitionKey(p), { previousSeq: l.revision });
      locks.delete(p);
      emit("released", p);
    } catch (e) {
      if (isCasFailure(e)) {
        locks.delete(p);
        emit("lost", p);
      } else log.debug({ err: e, partition: p }, "partition release failed; retrying");
    } finally {
      l.deleting = false;
    }
  };

  // --- the loop --------------------------------------------------------------------------
  const membership = await startMembership({ kv: nodesKv, nodeId: self, ttlMs: ttl, logger: log, onChange: () => wake() });
  const desired = (): Set<number> => new Set(stopping ? [] : partitionsFor(self, config.partitions, membership.live()));
  const looksFree = (p: number, now: number): boolean => {
    const e = view.get(p);
    return e === undefined || e.operation !== "PUT" || now - e.created.getTime() >= ttl;
  };

  const tick = (): void => {
    if (stopped) return;
    const now = Date.now();
    for (const [p, l] of locks) {
      const age = now - l.okSentAt;
      if (l.state !== "fenced" && age > fenceAfter) {
        setState(p, l, "fenced");
        emit("fenced", p);
      } else if (l.state === "fenced" && age > ttl + retryEvery && !l.refreshing) {
        locks.delete(p); // surely expired on the server by now; may be created again
        continue;
      }
      if (!l.refreshing && !l.deleting && now >= l.nextRefreshAt) void refresh(p, l);
      if (l.state === "releasing" && l.drained && !l.refreshing && !l.deleting) void release(p, l);
    }
    const want = desired();
    for (const [p, l] of locks) {
      if (l.state === "owned" && !want.has(p)) setState(p, l, "releasing");
      else if (l.state === "releasing" && want.has(p)) setState(p, l, "owned");
    }
    for (const p of want) {
      if (locks.has(p) || acquiring.has(p)) continue;
      if (looksFree(p, now) || now >= (nextTryAt.get(p) ?? 0)) void acquire(p);
    }
  };

  let timer: NodeJS.Timeout | undefined;
  let wakeScheduled = false;
  wake = () => {
    if (wakeScheduled || stopped) return;
    wakeScheduled = true;
    setImmediate(() => {
      wakeScheduled = false;
      tick();
    });
  };
  const watch = watchBucket(locksKv, refreshEvery, log, "partition locks", (e) => {
    const p = partitionOfKey(e.key);
    if (p === undefined) return;
    view.set(p, e);
    if (e.operation !== "PUT") wake(); // a release: whoever wants it may take it now
  });
  await Promise.race([watch.initialized, new Promise((r) => setTimeout(r, ttl))]);
  timer = setInterval(tick, tickEvery);
  tick();
  log.info({ ttlMs: ttl, partitions: config.partitions, live: membership.live() }, "partition ownership started");

  return {
    nodeId: self,
    owned,
    liveNodes: () => membership.live(),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await membership.leave();
      tick();
      while ([...locks.values()].some((l) => l.state !== "fenced") || acquiring.size > 0 || publishing) {
        await new Promise((r) => setTimeout(r, tickEvery));
      }
      stopped = true;
      clearInterval(timer);
      watch.stop();
      membership.stop();
      ownedGauge.removeCallback(observeOwned);
      log.info("partition ownership stopped");
    },
  };
}

/**
 * Lock timings must follow the TTL the server applies, not the one this process was told:
 * a bucket created with a shorter TTL would otherwise expire locks before we fence.
 */
async function effectiveTtl(configured: number, buckets: KV[], logger: Logger): Promise<number> {
  let ttl = configured;
  for (const kv of buckets) {
    const status = await kv.status();
    if (status.ttl > 0 && status.ttl !== configured) {
      logger.warn({ bucket: status.bucket, bucketTtlMs: status.ttl, configuredMs: configured }, "bucket TTL differs from SLUICE_LEASE_TTL; using the shorter");
      ttl = Math.min(ttl, status.ttl);
    }
  }
  return ttl;
}
