import type { FastifyInstance } from "fastify";
import { metricsText, PROMETHEUS_CONTENT_TYPE } from "../../protocol/telemetry/index.ts";
import { requireOperator } from "../auth.ts";

/**
 * Prometheus scrape endpoint: this process's `sluice_` metrics (pull mode). They carry
 * every tenant's names and, in a process that also delivers, every destination's figures,
 * and this port is the tenants' API port: the scraper presents an operator key
 * (Prometheus `authorization: {credentials: <key>}`). A node's own metrics port is not.
 */
export function metricsRoutes(app: FastifyInstance): void {
  app.get("/metrics", { preHandler: requireOperator("read") }, async (_req, reply) => {
    reply.type(PROMETHEUS_CONTENT_TYPE);
    return metricsText();
  });
}
