import { TIERS, type TierName } from "../../protocol/index.ts";

/**
 * A local queue per tier, served critical first, then transactional, then bulk.
 * Arrays with a moving head: O(1) amortised push and shift without a linked list.
 */
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

export class TierQueue<T> {
  #queues: Record<TierName, Fifo<T>> = { critical: new Fifo(), transactional: new Fifo(), bulk: new Fifo() };

  get size(): number {
    return this.#queues.critical.size + this.#queues.transactional.size + this.#queues.bulk.size;
  }
  sizeOf(tier: TierName): number {
    return this.#queues[tier].size;
  }
  push(tier: TierName, item: T): void {
    this.#queues[tier].push(item);
  }
  unshift(tier: TierName, item: T): void {
    this.#queues[tier].unshift(item);
  }
  /** The next item, highest tier first. */
  shift(): T | undefined {
    for (const tier of TIERS) {
      const item = this.#queues[tier].shift();
      if (item !== undefined) return item;
    }
    return undefined;
  }
  extract(pick: (item: T) => boolean): T[] {
    return TIERS.flatMap((tier) => this.#queues[tier].extract(pick));
  }
  *items(): Iterable<T> {
    for (const tier of TIERS) yield* this.#queues[tier];
  }
}
