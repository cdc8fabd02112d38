import type { FastifyInstance } from "fastify";
import {
  check,
  RenderedTemplate,
  RenderRequest,
  renderPreview,
  TemplateInput,
  TemplateList,
  TemplateVersionQuery,
  TemplateView,
} from "../../protocol/index.ts";
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  templateView,
  updateTemplate,
} from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { errorStatuses, idParam, NoContent } from "../route-docs.ts";
import { callerOf } from "./caller.ts";

const tags = ["templates"];
const params = idParam("template id");

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

  const created = { operationId: "createTemplate", tags, summary: "Store a template (version 1); `{{name}}` placeholders are filled from each recipient's vars at send time" };
  app.post("/v1/templates", { schema: { ...created, body: TemplateInput, response: { 201: TemplateView } } }, async (request, reply) => {
    const { tenant } = callerOf(request, "send");
    const view = await createTemplate(await kv(), tenant, input(request.body));
    return reply.code(201).send(view);
  });

  app.get("/v1/templates", { schema: { operationId: "listTemplates", tags, summary: "The tenant's templates, newest first", response: { 200: TemplateList } } }, async (request) => {
    const { tenant } = callerOf(request, "read");
    return { templates: await listTemplates(await kv(), tenant) };
  });

  const getOne = { operationId: "getTemplate", tags, summary: "One template: its latest version, or `?version=n`" };
  app.get("/v1/templates/:id", { schema: { ...getOne, params, querystring: TemplateVersionQuery, response: { 200: TemplateView, ...errorStatuses(404) } } }, async (request) => {
    const { tenant } = callerOf(request, "read");
    const id = idOf(request.params);
    const q = check(TemplateVersionQuery, request.query ?? {}, "query");
    if (!q.ok) throw q.error;
    const t = await getTemplate(await kv(), tenant, id, q.value.version);
    if (t === undefined) throw notFound(id, q.value.version);
    return templateView(t);
  });

  const put = { operationId: "updateTemplate", tags, summary: "Store the next version (earlier ones stay readable and sendable by number)" };
  app.put("/v1/templates/:id", { schema: { ...put, params, body: TemplateInput, response: { 200: TemplateView, ...errorStatuses(404) } } }, async (request) => {
    const { tenant } = callerOf(request, "send");
    const id = idOf(request.params);
    const view = await updateTemplate(await kv(), tenant, id, input(request.body));
    if (view === undefined) throw notFound(id);
    return view;
  });

  const del = { operationId: "deleteTemplate", tags, summary: "Delete the template and all its versions" };
  app.delete("/v1/templates/:id", { schema: { ...del, params, response: { 204: NoContent, ...errorStatuses(404) } } }, async (request, reply) => {
    const { tenant } = callerOf(request, "send");
    const id = idOf(request.params);
    if (!(await deleteTemplate(await kv(), tenant, id))) throw notFound(id);
    return reply.code(204).send();
  });

  const render = { operationId: "renderTemplate", tags, summary: "Preview: the template filled with `vars` as the node fills it (html-escaped in html); `missing` lists what was left empty" };
  app.post("/v1/templates/:id/render", { schema: { ...render, params, body: RenderRequest, response: { 200: RenderedTemplate, ...errorStatuses(404) } } }, async (request) => {
    const { tenant } = callerOf(request, "read");
    const id = idOf(request.params);
    const body = check(RenderRequest, request.body ?? {}, "body");
    if (!body.ok) throw body.error;
    const t = await getTemplate(await kv(), tenant, id, body.value.version);
    if (t === undefined) throw notFound(id, body.value.version);
    return { id, version: t.version, ...renderPreview(t, body.value.vars ?? {}) };
  });
}
