import type { FastifyInstance } from "fastify";
import { metricsText, PROMETHEUS_CONTENT_TYPE } from "../../protocol/telemetry/index.ts";

/** Prometheus scrape endpoint: this process's `sluice_` metrics (pull mode). */
export function metricsRoutes(app: FastifyInstance): void {
  app.get("/metrics", async (_req, reply) => {
    reply.type(PROMETHEUS_CONTENT_TYPE);
    return metricsText();
  });
}
