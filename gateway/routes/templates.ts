import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { check, createTemplate, deleteTemplate, getTemplate, listTemplates, renderPreview, TemplateInput, templateView, updateTemplate } from "../../protocol/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { callerOf } from "./caller.ts";

const RenderRequest = z.object({ vars: z.record(z.string(), z.string()).optional(), version: z.number().int().positive().optional() }).strict();
const VersionQuery = z.object({ version: z.coerce.number().int().positive().optional() }).strict();

/**
 * Stored, versioned templates of the caller's tenant: POST creates version 1, PUT adds the
 * next version (earlier ones stay readable with `?version=`), DELETE removes them all.
 * Writing needs `send` (content is a sender's business), reading `read`.
 */
export function templateRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const kv = async () => (await ctx.deps()).templates;
  const idOf = (params: unknown): string => (params as { id?: string }).id ?? "";
  const notFound = (id: string, version?: number) => new HttpError(404, "not_found", `no template ${id}${version === undefined ? "" : ` version ${version}`}`, "id");
  const input = (body: unknown) => {
    const parsed = check(TemplateInput, body ?? {}, "body");
    if (!parsed.ok) throw parsed.error;
    return parsed.value;
  };

  app.post("/v1/templates", async (request, reply) => {
    const { tenant } = callerOf(request, "send");
    const view = await createTemplate(await kv(), tenant, input(request.body));
    return reply.code(201).send(view);
  });

  app.get("/v1/templates", async (request) => {
    const { tenant } = callerOf(request, "read");
    return { templates: await listTemplates(await kv(), tenant) };
  });

  app.get("/v1/templates/:id", async (request) => {
    const { tenant } = callerOf(request, "read");
    const id = idOf(request.params);
    const q = check(VersionQuery, request.query ?? {}, "query");
    if (!q.ok) throw q.error;
    const t = await getTemplate(await kv(), tenant, id, q.value.version);
    if (t === undefined) throw notFound(id, q.value.version);
    return templateView(t);
  });

  app.put("/v1/templates/:id", async (request) => {
    const { tenant } = callerOf(request, "send");
    const id = idOf(request.params);
    const view = await updateTemplate(await kv(), tenant, id, input(request.body));
    if (view === undefined) throw notFound(id);
    return view;
  });

  app.delete("/v1/templates/:id", async (request, reply) => {
    const { tenant } = callerOf(request, "send");
    const id = idOf(request.params);
    if (!(await deleteTemplate(await kv(), tenant, id))) throw notFound(id);
    return reply.code(204).send();
  });

  app.post("/v1/templates/:id/render", async (request) => {
    const { tenant } = callerOf(request, "read");
    const id = idOf(request.params);
    const body = check(RenderRequest, request.body ?? {}, "body");
    if (!body.ok) throw body.error;
    const t = await getTemplate(await kv(), tenant, id, body.value.version);
    if (t === undefined) throw notFound(id, body.value.version);
    return { id, version: t.version, ...renderPreview(t, body.value.vars ?? {}) };
  });
}
