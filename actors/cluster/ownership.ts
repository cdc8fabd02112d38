import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { KV_BUCKETS, type Config } from "../../protocol/index.ts";
import { ApplyLoop } from "./apply-loop.ts";
import { desiredPartitions, planLocks } from "./assignment.ts";
import { LockTable, partitionOfKey, type LockEventType } from "./lock-table.ts";
import { startMembership } from "./membership.ts";
import { watchBucket } from "./watch.ts";

export { FENCE_FRACTION, parseLock, partitionKey, partitionOfKey, type LockValue } from "./lock-table.ts";

/**
 * Partition ownership. A node consumes a partition only while it holds that partition's
 * lock (see lock-table.ts). Which partitions it *tries* to hold comes from rendezvous
 * hashing over the live node leases (assignment.ts); only the locks make two owners
 * impossible. One loop reconciles the three: every tick it computes the wanted set, moves
 * the locks towards it, and the apply loop (apply-loop.ts) tells the node until the node
 * consumes exactly the locks it owns, retrying a change that failed for as long as it takes.
 */

export type OwnershipEventType = LockEventType;
export interface OwnershipEvent {
  type: OwnershipEventType;
  partition: number;
  nodeId: string;
}

export interface OwnershipHooks {
  /**
   * The partitions to consume now. Awaited before the locks of removed partitions are
   * released; a call that throws is made again (with backoff) until one succeeds. Calls
   * come one at a time, except that a fence calls at once even while an earlier call still
   * runs: the newest call's set is the one that counts, and stopping a partition must not
   * wait for an earlier call to finish.
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
  const tickEvery = Math.max(10, Math.floor(ttl / 25));
  let stopping = false;
  let stopped = false;
  let wake: () => void = () => undefined;

  const emit = (type: OwnershipEventType, partition: number): void => {
    if (type === "acquired" || type === "released") handoverCounter.add(1, { change: type });
    if (type === "fenced") fencesCounter.add(1);
    // One line per partition and change: 32 of them at every start-up, so debug unless it is trouble.
    if (type === "fenced" || type === "lost") log.warn({ partition }, `partition ${type}`);
    else log.debug({ partition }, `partition ${type}`);
    try {
      hooks.onEvent?.({ type, partition, nodeId: self });
    } catch (e) {
      log.error({ err: e }, "ownership event hook threw");
    }
  };

  const membership = await startMembership({ kv: nodesKv, nodeId: self, ttlMs: ttl, logger: log, onChange: () => wake() });
  const desired = (): Set<number> => desiredPartitions(self, config.partitions, membership.live(), stopping);

  const apply: ApplyLoop = new ApplyLoop({
    desired: () => table.owned(),
    apply: (set) => hooks.onChange(set),
    applied: () => wake(),
    logger: log,
    slowAfterMs: Math.max(1000, ttl),
    retryMinMs: Math.max(50, Math.floor(ttl / 25)),
    retryMaxMs: Math.max(1000, Math.floor(ttl / 2)),
  });
  const table: LockTable = new LockTable({
    kv: locksKv,
    self,
    ttl,
    logger: log,
    wanted: (p) => desired().has(p),
    stopping: () => stopping,
    ownedChanged: (urgent) => (urgent ? apply.urgent() : apply.request()),
    generation: () => apply.generation,
    drained: (p, since) => apply.drained(p, since),
    emit,
    wake: () => wake(),
  });
  const observeOwned = (r: { observe(v: number): void }) => r.observe(table.owned().length);
  ownedGauge.addCallback(observeOwned);

  const tick = (): void => {
    if (stopped) return;
    const now = Date.now();
    table.maintain(now);
    table.carryOut(planLocks(desired(), table.states(), table.acquiring()), now);
    // The node must consume exactly what is owned; a failed change is retried by the loop.
    if (!apply.settled()) apply.request();
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
  const watch = watchBucket(locksKv, table.refreshEvery, log, "partition locks", (e) => {
    const p = partitionOfKey(e.key);
    if (p === undefined) return;
    table.observe(p, e);
    if (e.operation !== "PUT") wake(); // a release: whoever wants it may take it now
  });
  await Promise.race([watch.initialized, new Promise((r) => setTimeout(r, ttl))]);
  timer = setInterval(tick, tickEvery);
  tick();
  log.info({ ttlMs: ttl, partitions: config.partitions, live: membership.live() }, "partition ownership started");

  return {
    nodeId: self,
    owned: () => table.owned(),
    liveNodes: () => membership.live(),
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await membership.leave();
      tick();
      while (table.busy() || !apply.settled()) {
        await new Promise((r) => setTimeout(r, tickEvery));
      }
      stopped = true;
      clearInterval(timer);
      apply.stop();
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
