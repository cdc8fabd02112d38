import type { FastifyInstance } from "fastify";
import { check, CreateWebhookRequest } from "../../protocol/index.ts";
import {
  getWebhook,
  listWebhooks,
  registerWebhook,
  removeWebhook,
  viewOf,
} from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { callerOf } from "./caller.ts";

/**
 * Webhook endpoints of the caller's tenant. The signing secret is in the answer to POST
 * only; afterwards it is never shown (a lost secret means: register a new endpoint).
 */
export function webhookRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const deps = async () => {
    const h = await ctx.deps();
    return { kv: h.webhooks, jsm: h.jsm };
  };
  const idOf = (params: unknown): string => (params as { id?: string }).id ?? "";
  const notFound = (id: string) => new HttpError(404, "not_found", `no webhook endpoint ${id}`, "id");

  app.post("/v1/webhooks", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const body = check(CreateWebhookRequest, request.body ?? {}, "body");
    if (!body.ok) throw body.error;
    const endpoint = await registerWebhook(await deps(), tenant, body.value, {
      lanes: ctx.config.webhooks.concurrency,
      allowPrivate: ctx.config.webhookAllowPrivate,
    });
    reply.code(201);
    return { ...viewOf(endpoint), secret: endpoint.secret };
  });

  app.get("/v1/webhooks", async (request) => {
    const { tenant } = callerOf(request, "read");
    return { webhooks: (await listWebhooks((await deps()).kv, tenant)).map(viewOf) };
  });

  app.get("/v1/webhooks/:id", async (request) => {
    const { tenant } = callerOf(request, "read");
    const id = idOf(request.params);
    const endpoint = await getWebhook((await deps()).kv, tenant, id);
    if (endpoint === undefined) throw notFound(id);
    return viewOf(endpoint);
  });

  app.delete("/v1/webhooks/:id", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const id = idOf(request.params);
    if (!(await removeWebhook(await deps(), tenant, id))) throw notFound(id);
    return reply.code(204).send();
  });
}
