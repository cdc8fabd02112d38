import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { partitionOf, TIERS, type TierName } from "../../protocol/index.ts";
import type { HeldWork } from "./held-work.ts";
import { TierConsumer } from "./tier-consumer.ts";

/** What the partition set needs from the rest of the node: narrow on purpose. */
export interface PartitionConsumersDeps {
  js: JetStreamClient;
  partitions: number;
  held: HeldWork;
  /** The dispatcher's side: which partitions are owned, a pulled message, handing back what is queued. */
  work: {
    setOwned(partitions: Iterable<number>): void;
    handle(msg: JsMsg, tier: TierName, partition: number): unknown;
    release(partitions: ReadonlySet<number>): void;
  };
  /** Close the SMTP pools of destinations this predicate names (handed-over domains). */
  closePools(drop: (destinationKey: string) => boolean): void;
  logger: Logger;
}

/**
 * How many messages of a tier one node holds unacknowledged at most (queued in
 * destination actors or being sent). Bulk may hold the most; critical never waits behind it
 * because every tier has its own bound and its own consumers.
 */
const HELD_PER_TIER: Record<TierName, number> = { critical: 2_000, transactional: 5_000, bulk: 10_000 };
const PULL_BATCH = 64;

/**
 * How many more messages the node may hold before some tier reaches its bound: what parked
 * mail taken back may add (its tier is known only once it is fetched, so the tightest tier
 * bounds it), so that taking back never lifts the node over the bounds above.
 */
export function heldHeadroom(held: HeldWork): number {
  return Math.min(...TIERS.map((t) => HELD_PER_TIER[t] - held.inTier(t)));
}

/** The partition of a destination key that is a domain; -1 for anything else. */
function partitionOfDomainKey(key: string, partitions: number): number {
  try {
    return partitionOf(key, partitions);
  } catch {
    return -1;
  }
}

/**
 * The (tier, partition) consumers this node runs, and the hand-over when the set of owned
 * partitions changes.
 *
 * Calls to `set` may overlap: cluster ownership gives up a partition at once when it cannot
 * renew its lock (fencing), even while an earlier call still waits for a slow hand-over. So
 * stopping is immediate; a call returns only when every partition it leaves out has settled
 * (also those an earlier, still running call stopped); and what is started is always what the
 * newest call wants.
 */
export class PartitionConsumers {
  readonly #d: PartitionConsumersDeps;
  readonly #consumers = new Map<number, TierConsumer[]>();
  /** Stopped, but what was pulled from them is not settled yet. */
  readonly #draining = new Set<number>();
  #wanted = new Set<number>();

  constructor(deps: PartitionConsumersDeps) {
    this.#d = deps;
  }

  owned(): number[] {
    return [...this.#consumers.keys()].sort((a, b) => a - b);
  }

  async set(wanted: number[]): Promise<void> {
    const next = new Set(wanted.filter((p) => Number.isInteger(p) && p >= 0 && p < this.#d.partitions));
    this.#wanted = next;
    this.#d.work.setOwned(next);
    const removed = await this.#stopAllBut(next);
    await this.#settleAllBut(next);
    const added = [...this.#wanted].filter((p) => !this.#consumers.has(p));
    const failed = (await Promise.allSettled(added.map((p) => this.#start(p)))).flatMap((r, i) =>
      r.status === "rejected" ? [{ partition: added[i], err: r.reason as unknown }] : [],
    );
    this.#d.logger.info({ partitions: this.#consumers.size, added: added.length - failed.length, removed }, "partitions updated");
    if (failed.length > 0) {
      throw new Error(`could not start consuming partition(s) ${failed.map((f) => f.partition).join(", ")}`, { cause: failed[0]?.err });
    }
  }

  /** Stop pulling the partitions left out and hand back what is queued from them; how many. */
  async #stopAllBut(keep: ReadonlySet<number>): Promise<number> {
    const removed = [...this.#consumers.keys()].filter((p) => !keep.has(p));
    if (removed.length === 0) return 0;
    const stopping = removed.flatMap((p) => this.#consumers.get(p) ?? []);
    for (const p of removed) {
      this.#consumers.delete(p);
      this.#draining.add(p);
    }
    await Promise.all(stopping.map((c) => c.stop()));
    this.#d.work.release(new Set(removed));
    return removed.length;
  }

  /** Wait until nothing is held from the draining partitions left out, then close their pools. */
  async #settleAllBut(keep: ReadonlySet<number>): Promise<void> {
    const settle = [...this.#draining].filter((p) => !keep.has(p));
    // The timer re-checks in case a release happened between the count and the wait.
    while (this.#d.held.inPartitions(settle) > 0) await Promise.race([this.#d.held.changed(), new Promise((r) => setTimeout(r, 200))]);
    for (const p of settle) this.#draining.delete(p);
    // Connections to the handed-over domains close now, not when the pool idles out: the
    // new owner opens its own, and the destination's limit counts both.
    const gone = new Set(settle.filter((p) => !this.#wanted.has(p)));
    if (gone.size > 0) this.#d.closePools((key) => !key.startsWith("mx:") && gone.has(partitionOfDomainKey(key, this.#d.partitions)));
  }

  async #start(p: number): Promise<void> {
    const { js, logger, work } = this.#d;
    const list = TIERS.map(
      (tier) => new TierConsumer({ js, tier, partition: p, batch: PULL_BATCH, admit: () => this.#admit(tier), handle: (msg) => work.handle(msg, tier, p), logger }),
    );
    this.#consumers.set(p, list);
    const failed = (await Promise.allSettled(list.map((c) => c.start()))).find((r) => r.status === "rejected");
    if (!failed) return;
    // Half a partition is not consumed: stop the tiers that did start and forget it, so that
    // the next call (ownership retries a failed one) starts it whole.
    const mine = this.#consumers.get(p) === list; // else a later call already stopped it
    if (mine) this.#consumers.delete(p);
    await Promise.all(list.map((c) => c.stop()));
    if (mine) work.release(new Set([p]));
    throw failed.reason;
  }

  /** Undefined when the tier may pull now; else a promise that resolves when it may. */
  #admit(tier: TierName): Promise<void> | undefined {
    const held = this.#d.held;
    if (held.inTier(tier) < HELD_PER_TIER[tier]) return undefined;
    return (async () => {
      while (held.inTier(tier) >= HELD_PER_TIER[tier]) await held.changed();
    })();
  }
}
