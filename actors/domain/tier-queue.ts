import { TIERS, type TierName } from "../../protocol/index.ts";

/** Arrays with a moving head: O(1) amortised push and shift without a linked list. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;
  get size(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  /** Put an item back at the front (a refused send goes out again before newer work). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
  /** The newest item (the one pushed back first when its owner is over its share). */
  pop(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    return this.#items.pop();
  }
  /** Remove and return every item matching `pick`, keeping the order of the rest. */
  extract(pick: (item: T) => boolean): T[] {
    const kept: T[] = [];
    const taken: T[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as T;
      (pick(item) ? taken : kept).push(item);
    }
    this.#items = kept;
    this.#head = 0;
    return taken;
  }
  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}

/** Weights are clamped here so that one round of the ring always serves someone soon. */
const MIN_WEIGHT = 0.1;

/**
 * One tier's queue, shared by tenants by deficit round-robin (Shreedhar & Varghese): each
 * tenant with work has a FIFO and a place in a ring; on its turn a tenant earns its weight
 * in credit and sends one message per unit of credit. So a tenant's wait depends on its own
 * backlog and on how many tenants are active, never on the size of the biggest backlog.
 * Every message costs 1 (what a destination limits is messages, not bytes).
 */
class FairLane<T> {
  #tenants = new Map<string, Lane<T>>();
  /**
   * Tenants with work, in serving order; the head is the one being served. An entry is
   * stale (skipped) once its lane left the map or moved (`turn` changed): removal and
   * move-to-front are O(1) instead of a search of the ring.
   */
  #ring = new Fifo<{ lane: Lane<T>; turn: number }>();
  #size = 0;

  constructor(
    private readonly tenantOf: (item: T) => string,
    private readonly weightOf: (tenant: string) => number,
  ) {}

  get size(): number {
    return this.#size;
  }
  sizeOf(tenant: string): number {
    return this.#tenants.get(tenant)?.fifo.size ?? 0;
  }
  push(item: T): void {
    this.#lane(this.tenantOf(item), false).fifo.push(item);
    this.#size++;
  }
  /** Back at the front of its tenant's queue, and that tenant served next. */
  unshift(item: T): void {
    const lane = this.#lane(this.tenantOf(item), true);
    lane.fifo.unshift(item);
    lane.deficit = Math.max(lane.deficit, 1);
    this.#size++;
  }
  shift(): T | undefined {
    for (;;) {
      const entry = this.#ring.shift();
      if (entry === undefined) return undefined;
      const lane = entry.lane;
      if (entry.turn !== lane.turn || this.#tenants.get(lane.tenant) !== lane || lane.fifo.size === 0) continue; // stale
      if (lane.deficit < 1) {
        lane.deficit += Math.max(MIN_WEIGHT, this.weightOf(lane.tenant));
        if (lane.deficit < 1) {
          this.#ring.push(entry);
          continue;
        }
      }
      const item = lane.fifo.shift() as T;
      lane.deficit -= 1;
      this.#size--;
      if (lane.fifo.size === 0) this.#tenants.delete(lane.tenant);
      else if (lane.deficit < 1) this.#ring.push(entry);
      else this.#ring.unshift(entry); // credit left: still its turn
      return item;
    }
  }
  /** The tenant with the most queued here (ties: the first found), or undefined when empty. */
  heaviest(): { tenant: string; size: number } | undefined {
    let best: { tenant: string; size: number } | undefined;
    for (const [tenant, lane] of this.#tenants) if (best === undefined || lane.fifo.size > best.size) best = { tenant, size: lane.fifo.size };
    return best !== undefined && best.size > 0 ? best : undefined;
  }
  /** The newest item of `tenant`. */
  popNewest(tenant: string): T | undefined {
    const lane = this.#tenants.get(tenant);
    const item = lane?.fifo.pop();
    if (lane === undefined || item === undefined) return undefined;
    this.#size--;
    if (lane.fifo.size === 0) this.#tenants.delete(tenant);
    return item;
  }
  extract(pick: (item: T) => boolean): T[] {
    const taken: T[] = [];
    for (const [tenant, lane] of [...this.#tenants]) {
      taken.push(...lane.fifo.extract(pick));
      if (lane.fifo.size === 0) this.#tenants.delete(tenant);
    }
    this.#size -= taken.length;
    return taken;
  }
  *items(): Iterable<T> {
    for (const lane of this.#tenants.values()) yield* lane.fifo;
  }

  /**
   * The lane of `tenant`, created (with no credit: an idle tenant saves none, DRR's rule
   * against a quiet tenant storing up a burst) and put in the ring when it had no work.
   */
  #lane(tenant: string, first: boolean): Lane<T> {
    let lane = this.#tenants.get(tenant);
    if (lane === undefined) {
      lane = { tenant, fifo: new Fifo(), deficit: 0, turn: 0 };
      this.#tenants.set(tenant, lane);
    } else if (!first) {
      return lane;
    } else {
      lane.turn++; // its old place in the ring goes stale
    }
    const entry = { lane, turn: lane.turn };
    if (first) this.#ring.unshift(entry);
    else this.#ring.push(entry);
    return lane;
  }
}

interface Lane<T> {
  tenant: string;
  fifo: Fifo<T>;
  deficit: number;
  turn: number;
}

export interface TierQueueOptions<T> {
  /** Whose item it is (fair sharing is between these); default: everyone the same. */
  tenantOf?: (item: T) => string;
  /** A tenant's share relative to the others (default 1); read on each of its turns, so it may change live. */
  weightOf?: (tenant: string) => number;
}

/**
 * A destination's local queue: critical first, then transactional, then bulk (strictly);
 * within a tier, tenants share by deficit round-robin.
 */
export class TierQueue<T> {
  #lanes: Record<TierName, FairLane<T>>;

  constructor(o: TierQueueOptions<T> = {}) {
    const tenantOf = o.tenantOf ?? (() => "");
    const weightOf = o.weightOf ?? (() => 1);
    this.#lanes = { critical: new FairLane(tenantOf, weightOf), transactional: new FairLane(tenantOf, weightOf), bulk: new FairLane(tenantOf, weightOf) };
  }

  get size(): number {
    return this.#lanes.critical.size + this.#lanes.transactional.size + this.#lanes.bulk.size;
  }
  sizeOf(tier: TierName): number {
    return this.#lanes[tier].size;
  }
  sizeOfTenant(tier: TierName, tenant: string): number {
    return this.#lanes[tier].sizeOf(tenant);
  }
  push(tier: TierName, item: T): void {
    this.#lanes[tier].push(item);
  }
  unshift(tier: TierName, item: T): void {
    this.#lanes[tier].unshift(item);
  }
  /** The next item, highest tier first, fairly between tenants within it. */
  shift(): T | undefined {
    for (const tier of TIERS) {
      const item = this.#lanes[tier].shift();
      if (item !== undefined) return item;
    }
    return undefined;
  }
  heaviest(tier: TierName): { tenant: string; size: number } | undefined {
    return this.#lanes[tier].heaviest();
  }
  popNewest(tier: TierName, tenant: string): T | undefined {
    return this.#lanes[tier].popNewest(tenant);
  }
  extract(pick: (item: T) => boolean): T[] {
    return TIERS.flatMap((tier) => this.#lanes[tier].extract(pick));
  }
  *items(): Iterable<T> {
    for (const tier of TIERS) yield* this.#lanes[tier].items();
  }
}
