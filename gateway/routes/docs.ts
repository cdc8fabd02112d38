import type { FastifyInstance } from "fastify";
import fastifySwaggerUi from "@fastify/swagger-ui";

type Doc = { paths: Record<string, Record<string, { operationId?: string; summary?: string }>> };

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Every operation as plain HTML: the page reads without JavaScript, and a text search finds them. */
function operationIndex(doc: Doc): string {
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(
      ([method, op]) => `<li><code>${method.toUpperCase()} ${escapeHtml(path)}</code> <b>${escapeHtml(op.operationId ?? "")}</b> ${escapeHtml(op.summary ?? "")}</li>`,
    ),
  );
  return `<noscript><h1>Sluice HTTP API</h1><p>The spec: <a href="/docs/openapi.json">/docs/openapi.json</a></p><ul>${rows.join("")}</ul></noscript>`;
}

/**
 * GET /docs: the HTML reference (Swagger UI, served from the @fastify/swagger-ui package
 * itself — no CDN, and no spec validator call-out), and GET /docs/openapi.json: the spec
 * (gateway/api-spec.ts builds it once all routes are known). No auth. The UI and its
 * static files live in one encapsulated plugin.
 */
export function docsRoutes(app: FastifyInstance): void {
  let index: string | undefined;
  app.get("/docs/openapi.json", async () => app.swagger());
  void app.register(async (docs) => {
    await docs.register(fastifySwaggerUi, {
      routePrefix: "/docs",
      validatorUrl: false,
      uiConfig: { docExpansion: "list", deepLinking: true, displayOperationId: true },
      theme: { title: "Sluice HTTP API" },
    });
    docs.addHook("onSend", async (request, reply, payload) => {
      const type = String(reply.getHeader("content-type") ?? "");
      if (typeof payload !== "string" || !type.startsWith("text/html") || !/^\/docs\/?(\?|$)/.test(request.url)) return payload;
      index ??= operationIndex(app.swagger() as unknown as Doc);
      return payload.replace("</body>", `${index}</body>`);
    });
  });
}
