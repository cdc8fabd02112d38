import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { KV_BUCKETS, type Config } from "../../protocol/index.ts";
import { ApplyLoop } from "./apply-loop.ts";
import { desiredPartitions, planLocks } from "./assignment.ts";
import { LockTable, partitionOfKey, type LockEventType } from "./lock-table.ts";
import { startMembership, type Membership } from "./membership.ts";
import { watchBucket, type BucketWatch } from "./watch.ts";

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
  const ownership = new PartitionOwnership({ locksKv, nodesKv, ttl, nodeId: config.nodeId, partitions: config.partitions, logger: logger.child({ nodeId: config.nodeId }), hooks });
  await ownership.start();
  return ownership;
}

interface PartitionOwnershipDeps {
  locksKv: KV;
  nodesKv: KV;
  /** The TTL the buckets really have (effectiveTtl). */
  ttl: number;
  nodeId: string;
  partitions: number;
  logger: Logger;
  hooks: OwnershipHooks;
}

/** The reconciling loop: membership → wanted partitions → locks (LockTable) → the node (ApplyLoop). */
class PartitionOwnership implements Ownership {
  readonly nodeId: string;
  readonly #d: PartitionOwnershipDeps;
  readonly #tickEvery: number;
  readonly #apply: ApplyLoop;
  readonly #table: LockTable;
  #membership: Membership | undefined;
  #watch: BucketWatch | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #stopped = false;
  #wakeScheduled = false;
  readonly #observeOwned = (r: { observe(v: number): void }): void => r.observe(this.#table.owned().length);

  constructor(d: PartitionOwnershipDeps) {
    this.#d = d;
    this.nodeId = d.nodeId;
    const { ttl, logger } = d;
    this.#tickEvery = Math.max(10, Math.floor(ttl / 25));
    this.#apply = new ApplyLoop({
      desired: () => this.#table.owned(),
      apply: (set) => d.hooks.onChange(set),
      applied: () => this.#wake(),
      logger,
      slowAfterMs: Math.max(1000, ttl),
      retryMinMs: Math.max(50, Math.floor(ttl / 25)),
      retryMaxMs: Math.max(1000, Math.floor(ttl / 2)),
    });
    this.#table = new LockTable({
      kv: d.locksKv,
      self: d.nodeId,
      ttl,
      logger,
      wanted: (p) => this.#desired().has(p),
      stopping: () => this.#stopping,
      ownedChanged: (urgent) => (urgent ? this.#apply.urgent() : this.#apply.request()),
      generation: () => this.#apply.generation,
      drained: (p, since) => this.#apply.drained(p, since),
      emit: (type, partition) => this.#emit(type, partition),
      wake: () => this.#wake(),
    });
  }

  async start(): Promise<void> {
    const { ttl, logger, locksKv } = this.#d;
    this.#membership = await startMembership({ kv: this.#d.nodesKv, nodeId: this.nodeId, ttlMs: ttl, logger, onChange: () => this.#wake() });
    ownedGauge.addCallback(this.#observeOwned);
    this.#watch = watchBucket(locksKv, this.#table.refreshEvery, logger, "partition locks", (e) => {
      const p = partitionOfKey(e.key);
      if (p === undefined) return;
      this.#table.observe(p, e);
      if (e.operation !== "PUT") this.#wake(); // a release: whoever wants it may take it now
    });
    await Promise.race([this.#watch.initialized, new Promise((r) => setTimeout(r, ttl))]);
    this.#timer = setInterval(() => this.#tick(), this.#tickEvery);
    this.#tick();
    logger.info({ ttlMs: ttl, partitions: this.#d.partitions, live: this.liveNodes() }, "partition ownership started");
  }

  owned(): number[] {
    return this.#table.owned();
  }

  liveNodes(): string[] {
    return this.#membership?.live() ?? [];
  }

  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#membership?.leave();
    this.#tick();
    while (this.#table.busy() || !this.#apply.settled()) await new Promise((r) => setTimeout(r, this.#tickEvery));
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#apply.stop();
    this.#watch?.stop();
    this.#membership?.stop();
    ownedGauge.removeCallback(this.#observeOwned);
    this.#d.logger.info("partition ownership stopped");
  }

  #desired(): Set<number> {
    return desiredPartitions(this.nodeId, this.#d.partitions, this.liveNodes(), this.#stopping);
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = Date.now();
    this.#table.maintain(now);
    this.#table.carryOut(planLocks(this.#desired(), this.#table.states(), this.#table.acquiring()), now);
    // The node must consume exactly what is owned; a failed change is retried by the loop.
    if (!this.#apply.settled()) this.#apply.request();
  }

  /** Tick soon (once, however many ask before it runs). */
  #wake(): void {
    if (this.#wakeScheduled || this.#stopped) return;
    this.#wakeScheduled = true;
    setImmediate(() => {
      this.#wakeScheduled = false;
      this.#tick();
    });
  }

  #emit(type: OwnershipEventType, partition: number): void {
    if (type === "acquired" || type === "released") handoverCounter.add(1, { change: type });
    if (type === "fenced") fencesCounter.add(1);
    // One line per partition and change: 32 of them at every start-up, so debug unless it is trouble.
    if (type === "fenced" || type === "lost") this.#d.logger.warn({ partition }, `partition ${type}`);
    else this.#d.logger.debug({ partition }, `partition ${type}`);
    try {
      this.#d.hooks.onEvent?.({ type, partition, nodeId: this.nodeId });
    } catch (e) {
      this.#d.logger.error({ err: e }, "ownership event hook threw");
    }
  }
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
