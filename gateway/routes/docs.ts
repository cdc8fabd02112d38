import type { FastifyInstance } from "fastify";
import { openApiDocument } from "../openapi.ts";

/** GET /docs and /docs/openapi.json: the OpenAPI document (no auth). */
export function docsRoutes(app: FastifyInstance): void {
  const doc = openApiDocument();
  app.get("/docs", async () => doc);
  app.get("/docs/openapi.json", async () => doc);
}
