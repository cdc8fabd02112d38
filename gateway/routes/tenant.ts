import type { FastifyInstance } from "fastify";
import { msToNextUtcDay, utcDay } from "../../protocol/index.ts";
import { authOf, requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";
import { asAcceptFailure } from "./messages.ts";

/** GET /v1/tenant: the caller's own tenant settings, today's use of its quota, and the reputation breaker's status (and why). */
export function tenantRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/v1/tenant", { preHandler: requireScope("read") }, async (request) => {
    const { tenant } = authOf(request);
    try {
      const settings = await ctx.quota.settings(tenant);
      const used = await ctx.quota.usedToday(tenant);
      const reputation = await ctx.quota.breaker(tenant);
      const now = Date.now();
      return {
        tenant,
        status: reputation.status,
        reputation,
        settings,
        today: {
          day: utcDay(now),
          used,
          ...(settings.dailyQuota === undefined ? {} : { quota: settings.dailyQuota, remaining: Math.max(0, settings.dailyQuota - used) }),
          resetsAt: new Date(now + msToNextUtcDay(now)).toISOString(),
        },
      };
    } catch (e) {
      throw asAcceptFailure(e);
    }
  });
}
