import type { FastifyInstance } from "fastify";
import type { GatewayContext } from "../context.ts";

/** Liveness says the process is up; readiness says it can take mail (NATS connected, topology present). */
export function healthRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    const ready = await ctx.ready();
    if (!ready.ok) {
      reply.code(503).header("retry-after", "5");
      return { status: "unavailable", reason: ready.reason };
    }
    return { status: "ready" };
  });
}
