import type { KV, Kvm } from "@nats-io/kv";
import type { Logger } from "pino";
import { LRUCache } from "lru-cache";
import { DEFAULT_TENANT_SETTINGS, errorMessage, KV_BUCKETS, msToNextUtcDay, quotaCounterKey, rateCounterKey, utcDay, type BreakerState, type QuotaFigures, type TenantSettings } from "../protocol/index.ts";
import { counterValue, getBreaker, getTenantSettings, releaseBlock, reserveBlock } from "../protocol/io/index.ts";
import { HttpError } from "./http-error.ts";
import { ClusterRate } from "./cluster-rate.ts";
import { KeyedLock } from "./keyed-lock.ts";

/** How long a tenant's settings are trusted before they are read again (a changed quota applies within this). */
const SETTINGS_CACHE_MS = 2000;
/** A reservation unused this long goes back to the shared counter, for the other gateways. */
const GIVE_BACK_MS = 1000;

interface Allowance {
  day: string;
  left: number;
  timer: NodeJS.Timeout | undefined;
}

/** Recipients over the daily quota of a tenant that holds (onQuota "hold"): accepted, released at `until`. */
export interface QuotaHold {
  until: number;
  quota: QuotaFigures;
}

export interface QuotaStores {
  tenants: KV;
  counters: KV;
}

/**
 * A tenant's daily quota (recipients per UTC day), held across every gateway by one KV
 * counter per (tenant, day) in `sluice_tenant_counters`. A gateway reserves from it in blocks
 * by compare-and-set and admits from its reservation in memory, so most requests touch no
 * KV; what it has not used after GIVE_BACK_MS goes back.
 *
 * The counter counts what is reserved, so the recipients accepted cluster-wide never exceed
 * the quota. The other side of the bound: a request may be refused while other gateways
 * still hold unused reservations — at most one block each (and near the end of the quota an
 * eighth of what was left; see reservationSize) — until they give them back, GIVE_BACK_MS
 * after their last use.
 */
export class TenantQuota {
  #settings = new LRUCache<string, { s: TenantSettings }>({ max: 10_000, ttl: SETTINGS_CACHE_MS });
  #allowances = new Map<string, Allowance>();
  /** One reservation at a time per tenant in this process (requests queue behind it). */
  #lock = new KeyedLock();
  #stores: Promise<QuotaStores> | undefined;
  #rate = new ClusterRate(async () => (await this.kvm()).open(KV_BUCKETS.tenantRates), rateCounterKey);

  constructor(
    private readonly kvm: () => Promise<Kvm>,
    private readonly block: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async settings(tenant: string): Promise<TenantSettings> {
    const hit = this.#settings.get(tenant);
    if (hit) return hit.s;
    let settings: TenantSettings;
    try {
      settings = (await getTenantSettings((await this.stores()).tenants, tenant)).settings;
    } catch (e) {
      // A cluster whose topology predates tenants (the gateway creates no buckets; nodes
      // and `sluice init` do): no tenant has settings yet, so none is limited.
      if (!/stream not found|bucket not found/i.test(errorMessage(e))) throw e;
      settings = DEFAULT_TENANT_SETTINGS;
    }
    this.#settings.set(tenant, { s: settings });
    return settings;
  }

  /** The two buckets, opened once (a failed opening is tried again on the next request). */
  stores(): Promise<QuotaStores> {
    if (this.#stores === undefined) {
      const opening = (async () => {
        const kvm = await this.kvm();
        const [tenants, counters] = await Promise.all([kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.tenantCounters)]);
        return { tenants, counters };
      })();
      this.#stores = opening;
      opening.catch(() => {
        if (this.#stores === opening) this.#stores = undefined;
      });
    }
    return this.#stores;
  }

  /** Recipients counted today for `tenant` (reserved cluster-wide, including reservations not used yet). */
  async usedToday(tenant: string): Promise<number> {
    return counterValue((await this.stores()).counters, quotaCounterKey(tenant, utcDay(this.now())));
  }

  /** The reputation breaker's verdict on `tenant` (healthy when it never judged otherwise). */
  async breaker(tenant: string): Promise<BreakerState | { status: "healthy" }> {
    return (await getBreaker((await this.stores()).tenants, tenant)) ?? { status: "healthy" };
  }

  /**
   * Admit `count` recipients of `tenant` (its cluster-wide rate, then its daily quota), or
   * throw 429 rate_limited / quota_exceeded with the figures. Over the quota of a tenant that
   * holds, the answer is a hold instead: nothing is counted today; the scheduler counts the
   * recipients against the day it releases them on. A request bigger than the whole quota
   * could never be released whole on any day: it is refused even then.
   */
  async admit(tenant: string, count: number): Promise<QuotaHold | undefined> {
    const { dailyQuota: quota, messagesPerSecond: rate, onQuota } = await this.settings(tenant);
    if (count === 0 || (quota === undefined && rate === undefined)) return undefined;
    return this.#lock.run(tenant, async () => {
      if (rate !== undefined) await this.#admitRate(tenant, count, rate);
      if (quota === undefined) return undefined;
      const over = await this.#admit(tenant, count, quota);
      if (over === undefined) return undefined;
      if (onQuota === "hold" && count <= quota) return { until: Date.parse(over.resetsAt), quota: over };
      throw quotaExceeded(tenant, over, this.now());
    });
  }

  /** Give back what `admit` took for a request that was not stored after all. */
  async refund(tenant: string, count: number): Promise<void> {
    const a = this.#allowances.get(tenant);
    if (a === undefined || a.day !== utcDay(this.now())) return;
    a.left += count;
    this.#armGiveBack(tenant, a);
  }

  /** Give every reservation back (gateway shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.#allowances.keys()].map((t) => this.#giveBack(t)));
  }

  /** Take `count` from this gateway's reservation (reserving more when short); the figures when they do not fit. */
  async #admit(tenant: string, count: number, quota: number): Promise<QuotaFigures | undefined> {
    const day = utcDay(this.now());
    let a = this.#allowances.get(tenant);
    if (a !== undefined && a.day !== day) {
      if (a.timer) clearTimeout(a.timer);
      a = undefined; // yesterday's reservation lapses with its counter
    }
    a ??= { day, left: 0, timer: undefined };
    this.#allowances.set(tenant, a);
    if (a.left < count) {
      const { counters } = await this.stores();
      const got = await reserveBlock(counters, quotaCounterKey(tenant, day), { need: count - a.left, block: this.block, limit: quota });
      if (got.reserved === 0) {
        this.#armGiveBack(tenant, a);
        return { quota, used: got.used, requested: count, resetsAt: new Date(this.now() + msToNextUtcDay(this.now())).toISOString() };
      }
      a.left += got.reserved;
    }
    a.left -= count;
    this.#armGiveBack(tenant, a);
    return undefined;
  }

  #armGiveBack(tenant: string, a: Allowance): void {
    if (a.timer) clearTimeout(a.timer);
    a.timer = setTimeout(() => void this.#lock.run(tenant, () => this.#giveBack(tenant)).catch((err: unknown) => this.logger.warn({ err, tenant }, "giving back a quota reservation failed; it lapses with the day")), GIVE_BACK_MS);
    a.timer.unref();
  }

  async #giveBack(tenant: string): Promise<void> {
    const a = this.#allowances.get(tenant);
    if (a === undefined) return;
    if (a.timer) clearTimeout(a.timer);
    this.#allowances.delete(tenant);
    if (a.left > 0 && a.day === utcDay(this.now())) await releaseBlock((await this.stores()).counters, quotaCounterKey(tenant, a.day), a.left);
  }

  async #admitRate(tenant: string, count: number, rate: number): Promise<void> {
    const over = await this.#rate.take(tenant, count, rate);
    if (over !== undefined) {
      throw new HttpError(429, "rate_limited", `tenant ${tenant} is over its rate of ${rate} recipients per second (cluster-wide); ${over.used} accepted this second`, undefined, { "retry-after": "1" }, { rate: { limit: rate, used: over.used, requested: count } });
    }
  }
}

function quotaExceeded(tenant: string, figures: QuotaFigures, now: number): HttpError {
  const retryAfterS = Math.max(1, Math.ceil(msToNextUtcDay(now) / 1000));
  return new HttpError(
    429,
    "quota_exceeded",
    `tenant ${tenant} has used ${figures.used} of its daily quota of ${figures.quota} recipients; ${figures.requested} more do not fit until ${figures.resetsAt}`,
    undefined,
    { "retry-after": String(retryAfterS) },
    { quota: figures },
  );
}
