import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The operator's dashboard: a static page (vanilla JS, canvas charts) that reads
 * GET /v1/stats, /v1/tenants and the DLQ routes. Files are read once at start-up: a few small files do
 * not need a static-file plugin.
 */
const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
  "chart.js": "text/javascript; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
  "tenants.js": "text/javascript; charset=utf-8",
  "sources.js": "text/javascript; charset=utf-8",
};

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";

export function dashboardRoutes(app: FastifyInstance): void {
  const dir = new URL("../dashboard/", import.meta.url);
  const content = new Map(Object.keys(FILES).map((name) => [name, readFileSync(new URL(name, dir))] as const));
  const send = (name: string) => async (_req: unknown, reply: FastifyReply) => {
    reply.type(FILES[name] ?? "application/octet-stream").header("content-security-policy", CSP).header("cache-control", "no-cache");
    return content.get(name);
  };
  app.get("/dashboard", send("index.html"));
  app.get("/dashboard/", send("index.html"));
  for (const name of Object.keys(FILES)) if (name !== "index.html") app.get(`/dashboard/${name}`, send(name));
}
