import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { check, EmailAddress, matchingAddress, Suppression } from "../../protocol/index.ts";
import { addSuppression, getSuppression, listSuppressions, removeSuppression } from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { callerOf } from "./caller.ts";

const PutBody = z
  .object({
    reason: Suppression.shape.reason.default("manual"),
    detail: Suppression.shape.detail,
  })
  .strict();
const ListQuery = z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(1000) }).strict();

/** The caller's suppression list: addresses Sluice will not send to (status `suppressed`, no SMTP attempt). */
export function suppressionRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const addressOf = (params: unknown): string => {
    const raw = (params as { address?: string }).address ?? "";
    const parsed = check(EmailAddress, raw, "address");
    if (!parsed.ok) throw new HttpError(400, "invalid_address", `"${raw}" is not an email address: ${parsed.error.message}`, "address");
    return parsed.value;
  };

  app.get("/v1/suppressions", async (request) => {
    const { tenant } = callerOf(request, "read");
    const query = check(ListQuery, request.query ?? {}, "query");
    if (!query.ok) throw query.error;
    return { suppressions: await listSuppressions((await ctx.deps()).suppressions, tenant, query.value.limit) };
  });

  app.get("/v1/suppressions/:address", async (request) => {
    const { tenant } = callerOf(request, "read");
    const address = addressOf(request.params);
    const entry = await getSuppression((await ctx.deps()).suppressions, tenant, address);
    if (entry === undefined) throw new HttpError(404, "not_found", `${address} is not suppressed`, "address");
    return entry;
  });

  app.put("/v1/suppressions/:address", async (request) => {
    const { tenant } = callerOf(request, "admin");
    const address = addressOf(request.params);
    const body = check(PutBody, request.body ?? {}, "body");
    if (!body.ok) throw body.error;
    const entry: Suppression = { address: matchingAddress(address), reason: body.value.reason, at: Date.now() };
    if (body.value.detail !== undefined) entry.detail = body.value.detail;
    await addSuppression((await ctx.deps()).suppressions, tenant, entry);
    return entry;
  });

  app.delete("/v1/suppressions/:address", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const address = addressOf(request.params);
    if (!(await removeSuppression((await ctx.deps()).suppressions, tenant, address))) {
      throw new HttpError(404, "not_found", `${address} is not suppressed`, "address");
    }
    return reply.code(204).send();
  });
}
