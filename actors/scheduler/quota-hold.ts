import type { KV } from "@nats-io/kv";
import { planOf, quotaCounterKey, sliceRange, utcDay, type ScheduleRecord } from "../../protocol/index.ts";
import { getTenantSettings, releaseBlock, reserveBlock } from "../../protocol/io/index.ts";

/** The buckets a release of quota-held mail counts in: settings (the quota) and the day counters. */
export interface HoldQuota {
  tenants: KV;
  counters: KV;
}

/**
 * Count the next slice of a record held over its tenant's daily quota (onQuota "hold")
 * against the quota of the day `now` falls in, on the counter the gateways reserve from.
 * Returns the recipients counted (0: the tenant has no quota any more), or undefined when
 * they do not fit what is left of the day: the slice waits for the next day. So held mail
 * never pushes a day over its quota; it competes for it with the day's new requests.
 */
export async function chargeSlice(q: HoldQuota, r: ScheduleRecord, now: number): Promise<number | undefined> {
  const quota = (await getTenantSettings(q.tenants, r.tenant)).settings.dailyQuota;
  if (quota === undefined) return 0;
  const { from, to } = sliceRange(planOf(r), r.next);
  const cancelled = new Set(r.cancelled ?? []);
  let need = 0;
  for (let i = from; i < to; i++) if (!cancelled.has(i)) need++;
  if (need === 0) return 0;
  // A slice bigger than the whole quota (lowered since it was held) would never fit: it
  // goes out alone, on a day nothing else has counted yet.
  const got = await reserveBlock(q.counters, quotaCounterKey(r.tenant, utcDay(now)), { need, block: need, limit: Math.max(quota, need) });
  return got.reserved === 0 ? undefined : got.reserved;
}

/** Give back what chargeSlice counted for a release that did not happen (the record moved meanwhile). */
export async function refundSlice(q: HoldQuota, r: ScheduleRecord, amount: number, now: number): Promise<void> {
  if (amount > 0) await releaseBlock(q.counters, quotaCounterKey(r.tenant, utcDay(now)), amount);
}
