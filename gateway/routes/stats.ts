import type { FastifyInstance } from "fastify";
import { Tenant } from "../../protocol/index.ts";
import { tenantStats } from "../../protocol/io/index.ts";
import { observeQueueDepth } from "../../protocol/telemetry/index.ts";
import { clusterWatch } from "../cluster-watch.ts";
import { authOf, requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";

/**
 * GET /v1/stats: the cluster as the dashboard shows it — nodes, per-tier queue depth,
 * per-destination state and throughput, and an hour of history (kept in memory here,
 * sampled every 2 s, bounded). `?history=0` leaves the history out, `?since=<ms>` keeps
 * only the samples after that time (what a polling dashboard has not seen). It takes an
 * admin key.
 *
 * Those figures are every tenant's (a destination's queue holds all tenants' mail), so only
 * an operator key sees them. A tenant key gets its own tenant's figures (TenantStats: its
 * dead letters and events); an operator narrows to one tenant with `?tenant=<name>`.
 */
export function statsRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const cluster = clusterWatch(app, ctx);
  observeQueueDepth(() => {
    const tiers = cluster.view()?.current(false).tiers;
    if (!tiers) return undefined;
    const out: Record<string, number> = {};
    for (const [tier, t] of Object.entries(tiers)) if (t.queued !== undefined) out[tier] = t.queued;
    return out;
  });

  app.get<{ Querystring: { history?: string; since?: string; tenant?: string } }>("/v1/stats", { preHandler: requireScope("admin") }, async (req, reply) => {
    const auth = authOf(req);
    const asked = req.query.tenant;
    if (asked !== undefined && !Tenant.safeParse(asked).success) {
      throw new HttpError(400, "invalid_request", `"${asked}" is not a tenant name ([a-z0-9][a-z0-9_-]*, at most 63)`, "tenant");
    }
    if (!auth.operator && asked !== undefined && asked !== auth.tenant) {
      throw new HttpError(403, "forbidden", "only an operator key sees another tenant's figures (sluice keys create --operator)");
    }
    if (!auth.operator || asked !== undefined) {
      reply.header("cache-control", "no-store");
      return tenantStats((await ctx.deps()).jsm, asked ?? auth.tenant);
    }
    const view = cluster.view();
    if (!view) {
      reply.code(503).header("retry-after", "2");
      return { error: { code: "nats_unavailable", message: "not connected to NATS yet; cluster stats are not available" } };
    }
    const since = req.query.since === undefined ? undefined : Number(req.query.since);
    if (since !== undefined && !Number.isFinite(since)) {
      reply.code(400);
      return { error: { code: "invalid_request", message: "since must be a time in milliseconds since the epoch", field: "since" } };
    }
    reply.header("cache-control", "no-store");
    const stats = view.current(req.query.history !== "0");
    // A polling client asks only for the samples it has not seen yet.
    return since === undefined ? stats : { ...stats, history: stats.history.filter((s) => s.at > since) };
  });
}
