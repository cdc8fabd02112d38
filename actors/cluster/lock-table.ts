import { randomUUID } from "node:crypto";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { KV, KvEntry } from "@nats-io/kv";
import type { Logger } from "pino";
import type { LockPlan, LockState } from "./assignment.ts";

/**
 * The partition locks this node holds, one key each in the `sluice_partitions` bucket
 * (TTL = lease TTL), with an explicit state per lock:
 *
 *  - acquire: create the key (fails while anyone else holds it);
 *  - keep: rewrite it every TTL/3 with compare-and-set on the revision we wrote last;
 *  - release: only once the node confirmed it stopped consuming (`drained`), delete the
 *    key, again guarded by our last revision;
 *  - fence: a lock we could not rewrite for 60% of the TTL is treated as lost at once,
 *    because from TTL on the server may expire it and another node may create it. The
 *    remaining 40% is the time the node has to stop pulling. If a late rewrite succeeds
 *    after all, the compare-and-set proves nobody took it in between and we resume.
 */

export type LockEventType = "acquired" | "released" | "fenced" | "restored" | "lost";

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

interface Lock {
  state: LockState;
  revision: number;
  /** Local time just before the last write the server confirmed: the lock lives at least TTL from here. */
  okSentAt: number;
  nextRefreshAt: number;
  refreshing: boolean;
  deleting: boolean;
  /** The apply generation at which it left the owned set (-1: never owned); see `drained`. */
  releasedAtGen: number;
}

export interface LockTableOptions {
  kv: KV;
  self: string;
  ttl: number;
  logger: Logger;
  /** Is this partition wanted now? A lock acquired for a partition no longer wanted is released unconsumed. */
  wanted(p: number): boolean;
  /** Handing everything over: a fenced lock renewed late is not consumed again. */
  stopping(): boolean;
  /** The owned set changed; urgent when a partition must stop at once (fenced or lost). */
  ownedChanged(urgent: boolean): void;
  /** The generation of the node's next partition change. */
  generation(): number;
  /** Has the node confirmed, in a change after generation `since`, that it no longer consumes `p`? */
  drained(p: number, since: number): boolean;
  emit(type: LockEventType, p: number): void;
  /** Something finished: run the loop again soon. */
  wake(): void;
}

export class LockTable {
  readonly #locks = new Map<number, Lock>();
  readonly #acquiring = new Set<number>();
  readonly #nextTryAt = new Map<number, number>();
  /** The last entry seen for every key, ours and others'. */
  readonly #view = new Map<number, KvEntry>();
  readonly #instance = randomUUID();
  readonly #refreshEvery: number;
  readonly #retryEvery: number;
  readonly #requestTimeout: number;
  readonly #fenceAfter: number;

  constructor(private readonly o: LockTableOptions) {
    this.#refreshEvery = Math.max(30, Math.floor(o.ttl / 3));
    this.#retryEvery = Math.max(20, Math.floor(o.ttl / 15));
    this.#requestTimeout = Math.max(100, Math.floor(o.ttl / 6));
    this.#fenceAfter = o.ttl * FENCE_FRACTION;
  }

  get refreshEvery(): number {
    return this.#refreshEvery;
  }

  /** Partitions the node may consume right now (locked, not fenced, not being released). */
  owned(): number[] {
    return [...this.#locks].filter(([, l]) => l.state === "owned").map(([p]) => p).sort((a, b) => a - b);
  }

  states(): Map<number, LockState> {
    return new Map([...this.#locks].map(([p, l]) => [p, l.state]));
  }

  acquiring(): ReadonlySet<number> {
    return this.#acquiring;
  }

  /** Anything still held that is not fenced, or being acquired. */
  busy(): boolean {
    return [...this.#locks.values()].some((l) => l.state !== "fenced") || this.#acquiring.size > 0;
  }

  /** An entry from the bucket's watch. */
  observe(p: number, e: KvEntry): void {
    this.#view.set(p, e);
  }

  /** Timers: fence what could not be renewed in time, forget what surely expired, renew, release what is drained. */
  maintain(now: number): void {
    for (const [p, l] of this.#locks) {
      const age = now - l.okSentAt;
      if (l.state !== "fenced" && age > this.#fenceAfter) {
        this.#setState(l, "fenced");
        this.o.emit("fenced", p);
      } else if (l.state === "fenced" && age > this.o.ttl + this.#retryEvery && !l.refreshing) {
        this.#locks.delete(p); // surely expired on the server by now; may be created again
        continue;
      }
      if (!l.refreshing && !l.deleting && now >= l.nextRefreshAt) void this.#refresh(p, l);
      if (l.state === "releasing" && !l.refreshing && !l.deleting && this.o.drained(p, l.releasedAtGen)) void this.#release(p, l);
    }
  }

  /** Carry out a plan from `planLocks`. */
  carryOut(plan: LockPlan, now: number): void {
    for (const p of plan.disown) {
      const l = this.#locks.get(p);
      if (l) this.#setState(l, "releasing");
    }
    for (const p of plan.reown) {
      const l = this.#locks.get(p);
      if (l) this.#setState(l, "owned");
    }
    for (const p of plan.acquire) if (this.#looksFree(p, now) || now >= (this.#nextTryAt.get(p) ?? 0)) void this.#acquire(p);
  }

  #looksFree(p: number, now: number): boolean {
    const e = this.#view.get(p);
    return e === undefined || e.operation !== "PUT" || now - e.created.getTime() >= this.o.ttl;
  }

  #setState(l: Lock, state: LockState): void {
    if (l.state === state) return;
    const wasOwned = l.state === "owned";
    if (wasOwned) l.releasedAtGen = this.o.generation();
    l.state = state;
    this.o.ownedChanged(wasOwned && state === "fenced");
  }

  #value(): string {
    return JSON.stringify({ node: this.o.self, instance: this.#instance, at: Date.now() } satisfies LockValue);
  }

  async #refresh(p: number, l: Lock): Promise<void> {
    l.refreshing = true;
    const sentAt = Date.now();
    try {
      l.revision = await this.o.kv.update(partitionKey(p), this.#value(), l.revision, this.#requestTimeout);
      l.okSentAt = sentAt;
      l.nextRefreshAt = sentAt + this.#refreshEvery;
      if (l.state === "fenced" && Date.now() - sentAt < this.#fenceAfter && !this.o.stopping()) {
        this.#setState(l, "owned");
        this.o.emit("restored", p);
      }
    } catch (e) {
      if (isCasFailure(e)) {
        // A write of ours that timed out may have landed after all: then the key still
        // carries this instance's mark and we go on from its revision (okSentAt unchanged).
        const current = await this.o.kv.get(partitionKey(p)).catch(() => null);
        if (current?.operation === "PUT" && parseLock(current)?.instance === this.#instance) {
          l.revision = current.revision;
          l.nextRefreshAt = Date.now();
          return;
        }
        // Someone else wrote the key: it expired on us. Fencing should have come first.
        this.#locks.delete(p);
        if (l.state === "owned") this.o.ownedChanged(true);
        this.o.emit("lost", p);
      } else {
        l.nextRefreshAt = Date.now() + this.#retryEvery;
      }
    } finally {
      l.refreshing = false;
    }
  }

  async #acquire(p: number): Promise<void> {
    this.#acquiring.add(p);
    const key = partitionKey(p);
    let sentAt = Date.now();
    try {
      let revision: number;
      try {
        revision = await this.o.kv.put(key, this.#value(), { previousSeq: 0, timeout: this.#requestTimeout });
      } catch (e) {
        if (!isCasFailure(e)) throw e;
        // The key exists: free only if its last entry is a delete marker.
        const current = await this.o.kv.get(key);
        if (current === null || current.operation === "PUT") {
          if (current) this.#view.set(p, current);
          this.#nextTryAt.set(p, Date.now() + this.#refreshEvery);
          return;
        }
        sentAt = Date.now();
        revision = await this.o.kv.put(key, this.#value(), { previousSeq: current.revision, timeout: this.#requestTimeout });
      }
      // An answer that took longer than the fence allows (a request stuck in a network
      // partition, delivered late) gives a lock we cannot trust to live long enough.
      const late = Date.now() - sentAt >= this.#fenceAfter;
      const l: Lock = { state: late ? "fenced" : "releasing", revision, okSentAt: sentAt, nextRefreshAt: sentAt + this.#refreshEvery, refreshing: false, deleting: false, releasedAtGen: -1 };
      this.#locks.set(p, l);
      this.o.emit("acquired", p);
      // Still wanted? Otherwise it is released straight away without ever being consumed.
      if (!late && this.o.wanted(p)) this.#setState(l, "owned");
    } catch (e) {
      if (!isCasFailure(e)) this.o.logger.debug({ err: e, partition: p }, "partition lock attempt failed");
      this.#nextTryAt.set(p, Date.now() + this.#retryEvery);
    } finally {
      this.#acquiring.delete(p);
      this.o.wake();
    }
  }

  async #release(p: number, l: Lock): Promise<void> {
    l.deleting = true;
    try {
      await this.o.kv.delete(partitionKey(p), { previousSeq: l.revision });
      this.#locks.delete(p);
      this.o.emit("released", p);
    } catch (e) {
      if (isCasFailure(e)) {
        this.#locks.delete(p);
        this.o.emit("lost", p);
      } else this.o.logger.debug({ err: e, partition: p }, "partition release failed; retrying");
    } finally {
      l.deleting = false;
    }
  }
}
