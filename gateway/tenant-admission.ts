import type { GatewayContext } from "./context.ts";
import type { QuotaHold } from "./tenant-quota.ts";

/**
 * Admit `count` recipients of `tenant` against its daily quota (429 quota_exceeded when
 * they do not fit), then store them; a store that fails gives the admission back, so a
 * retried request is not counted twice. Over the quota of a tenant that holds, `store` gets
 * the hold (accept them held until the quota renews; nothing was counted today). Runs
 * inside the idempotency claim: a replayed answer costs no quota.
 */
export async function withinQuota<T>(ctx: GatewayContext, tenant: string, count: number, store: (hold: QuotaHold | undefined) => Promise<T>): Promise<T> {
  const hold = await ctx.quota.admit(tenant, count);
  if (hold !== undefined) return store(hold);
  try {
    return await store(undefined);
  } catch (e) {
    await ctx.quota.refund(tenant, count);
    throw e;
  }
}

/** What a held acceptance adds to the 202: why, when it is released, and the quota's figures. */
export const heldAnswer = (hold: QuotaHold) => ({ held: { reason: "quota_exceeded" as const, releasesAt: new Date(hold.until).toISOString(), quota: hold.quota } });
