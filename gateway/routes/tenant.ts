import type { FastifyInstance } from "fastify";
import { msToNextUtcDay, utcDay } from "../../protocol/index.ts";
import { tenantOverview } from "../../protocol/io/index.ts";
import { authOf, requireScope } from "../auth.ts";
import { clusterWatch } from "../cluster-watch.ts";
import type { GatewayContext } from "../context.ts";
import { asAcceptFailure } from "./messages.ts";

/**
 * GET /v1/tenant: the caller's own tenant settings, today's use of its quota, and the
 * reputation breaker's status (and why). GET /v1/tenants: the dashboard's tenant panel —
 * every tenant's backlog, quota use and status for an operator key, the caller's own row
 * for any other key (invariant 6: a tenant sees only its own figures).
 */
export function tenantRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const cluster = clusterWatch(app, ctx);
  app.get("/v1/tenants", { preHandler: requireScope("read") }, async (request, reply) => {
    const auth = authOf(request);
    try {
      const [{ jsm }, stores] = await Promise.all([ctx.deps(), ctx.quota.stores()]);
      const rows = await tenantOverview({ jsm, ...stores }, auth.operator ? {} : { only: auth.tenant });
      const inFlight = cluster.view()?.current(false).tenantsInFlight ?? {};
      const overQuota = cluster.volume()?.heldForQuota ?? {};
      reply.header("cache-control", "no-store");
      return { at: Date.now(), scope: auth.operator ? "cluster" : "tenant", tenants: rows.map((r) => ({ ...r, inFlight: inFlight[r.tenant] ?? 0, heldForQuota: overQuota[r.tenant] ?? 0 })) };
    } catch (e) {
      throw asAcceptFailure(e);
    }
  });

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
