import type { GatewayContext } from "./context.ts";

/**
 * Admit `count` recipients of `tenant` against its daily quota (429 quota_exceeded when
 * they do not fit), then store them; a store that fails gives the admission back, so a
 * retried request is not counted twice. Runs inside the idempotency claim: a replayed
 * answer costs no quota.
 */
export async function withinQuota<T>(ctx: GatewayContext, tenant: string, count: number, store: () => Promise<T>): Promise<T> {
  await ctx.quota.admit(tenant, count);
  try {
    return await store();
  } catch (e) {
    await ctx.quota.refund(tenant, count);
    throw e;
  }
}
