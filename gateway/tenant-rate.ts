import type { KV } from "@nats-io/kv";
import { rateCounterKey } from "../protocol/index.ts";
import { reserveBlock } from "../protocol/io/index.ts";
import { HttpError } from "./http-error.ts";

/**
 * A tenant's `messagesPerSecond`, cluster-wide: one counter per (tenant, UTC second) in
 * `sluice_tenant_rates` (a 1-minute TTL bucket), reserved in blocks of a quarter of the rate by
 * compare-and-set like the daily quota. A block unused at the end of its second lapses. So the
 * recipients accepted in any one second never exceed the rate; a request may be refused while
 * other gateways hold at most a block each of that second.
 */
export class TenantRate {
  #windows = new Map<string, { second: number; left: number }>();
  #kv: Promise<KV> | undefined;

  constructor(
    private readonly open: () => Promise<KV>,
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

  /** Admit `count` recipients of `tenant` at `rate` per second, or throw 429 rate_limited. Callers serialise per tenant. */
  async admit(tenant: string, count: number, rate: number): Promise<void> {
    const second = Math.floor(this.now() / 1000);
    let w = this.#windows.get(tenant);
    if (w === undefined || w.second !== second) {
      w = { second, left: 0 };
      this.#windows.set(tenant, w);
    }
    if (w.left < count) {
      const limit = Math.floor(rate);
      const got = await reserveBlock(await this.#counters(), rateCounterKey(tenant, second), { need: count - w.left, block: Math.max(1, Math.ceil(limit / 4)), limit });
      if (got.reserved === 0) {
        throw new HttpError(429, "rate_limited", `tenant ${tenant} is over its rate of ${rate} recipients per second (cluster-wide); ${got.used} accepted this second`, undefined, { "retry-after": "1" }, { rate: { limit: rate, used: got.used, requested: count } });
      }
      w.left += got.reserved;
    }
    w.left -= count;
  }
}
