import type { KV } from "@nats-io/kv";
import { reserveBlock } from "../protocol/io/index.ts";
import { KeyedLock } from "./keyed-lock.ts";

/**
 * A rate per second held across every gateway: one counter per (id, UTC second) in
 * `sluice_tenant_rates` (a 1-minute TTL bucket), reserved in blocks of a quarter of the
 * rate by compare-and-set like the daily quota; a gateway admits from its block in memory,
 * and a block unused at the end of its second lapses. So what is admitted in any one UTC
 * second never exceeds the rate, across all gateways; the other side of the bound, a request
 * may be refused while other gateways hold unused blocks of that second (at most one each).
 * Fixed one-second windows, so over any sliding second up to twice the rate (the end of one
 * window and the start of the next). Used for a tenant's `messagesPerSecond` (recipients)
 * and an API key's rate (requests).
 */
export class ClusterRate {
  #windows = new Map<string, { second: number; left: number }>();
  #kv: Promise<KV> | undefined;
  #lock = new KeyedLock();

  constructor(
    private readonly open: () => Promise<KV>,
    /** The counter's key in the bucket for `id` in `second` (epoch seconds). */
    private readonly counterKey: (id: string, second: number) => string,
    private readonly now: () => number = Date.now,
  ) {}

  #counters(): Promise<KV> {
    if (this.#kv === undefined) {
      const opening = this.open();
      this.#kv = opening;
      opening.catch(() => {
        if (this.#kv === opening) this.#kv = undefined;
      });
    }
    return this.#kv;
  }

  /** Take `count` for `id` at `rate` per second: undefined when admitted, else how many this second had taken cluster-wide. */
  take(id: string, count: number, rate: number): Promise<{ used: number } | undefined> {
    const second = Math.floor(this.now() / 1000);
    const w = this.#windows.get(id);
    // The common case touches no KV and waits for nothing.
    if (w !== undefined && w.second === second && w.left >= count) {
      w.left -= count;
      return Promise.resolve(undefined);
    }
    return this.#lock.run(id, () => this.#reserve(id, count, rate));
  }

  async #reserve(id: string, count: number, rate: number): Promise<{ used: number } | undefined> {
    const second = Math.floor(this.now() / 1000);
    let w = this.#windows.get(id);
    if (w === undefined || w.second !== second) {
      w = { second, left: 0 };
      this.#windows.set(id, w);
    }
    // A loop, not an if: requests on the fast path may take from the block while this one waits for KV.
    while (w.left < count) {
      const limit = Math.floor(rate);
      const got = await reserveBlock(await this.#counters(), this.counterKey(id, second), { need: count - w.left, block: Math.max(1, Math.ceil(limit / 4)), limit });
      if (got.reserved === 0) return { used: got.used };
      w.left += got.reserved;
    }
    w.left -= count;
    return undefined;
  }
}
