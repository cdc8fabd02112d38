import type { FastifyInstance } from "fastify";
import { observeQueueDepth, watchCluster, type ClusterView } from "../../protocol/telemetry/index.ts";
import { requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";

/**
 * GET /v1/stats: the cluster as the dashboard shows it — nodes, per-tier queue depth,
 * per-destination state and throughput, and an hour of history (kept in memory here,
 * sampled every 2 s, bounded). `?history=0` leaves the history out, `?since=<ms>` keeps
 * only the samples after that time (what a polling dashboard has not seen). It shows every
 * tenant's destinations, so it takes an admin key.
 */
export function statsRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  let view: ClusterView | undefined;
  // The gateway may start before NATS answers: begin watching once it does.
  const attach = (): void => {
    const nc = ctx.nats();
    if (view || !nc || nc.isClosed()) return;
    view = watchCluster(nc, {
      onInvalid: (subject, reason) => ctx.logger.warn({ subject, reason }, "ignored an invalid node stats snapshot"),
    });
  };
  const timer = setInterval(attach, 500);
  timer.unref();
  attach();
  observeQueueDepth(() => {
    const tiers = view?.current(false).tiers;
    if (!tiers) return undefined;
    const out: Record<string, number> = {};
    for (const [tier, t] of Object.entries(tiers)) if (t.queued !== undefined) out[tier] = t.queued;
    return out;
  });

  app.addHook("onClose", async () => {
    clearInterval(timer);
    view?.close();
  });

  app.get<{ Querystring: { history?: string; since?: string } }>("/v1/stats", { preHandler: requireScope("admin") }, async (req, reply) => {
    attach();
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
