import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { check } from "../../protocol/index.ts";
import {
  deleteDeadLetter,
  getDeadLetter,
  listDeadLetters,
  replayDeadLetter,
  type DlqDeps,
} from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { callerOf } from "./caller.ts";

const ListQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: z.coerce.number().int().nonnegative().optional(),
  })
  .strict();
const IdParams = z.object({ id: z.string() });

/** The dead-letter queue of the caller's tenant: list, read one, replay, delete. */
export function dlqRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const deps = async (): Promise<DlqDeps> => {
    const h = await ctx.deps();
    return { js: h.js, jsm: h.jsm, partitions: ctx.config.partitions };
  };
  const notFound = (id: string) => new HttpError(404, "not_found", `no dead letter for message ${id}`, "id");

  app.get("/v1/dlq", async (request) => {
    const { tenant } = callerOf(request, "read");
    const query = check(ListQuery, request.query ?? {}, "query");
    if (!query.ok) throw query.error;
    const page = await listDeadLetters(await deps(), tenant, query.value);
    return { deadLetters: page.deadLetters.map((s) => s.view), ...(page.next === undefined ? {} : { next: page.next }) };
  });

  app.get("/v1/dlq/:id", async (request) => {
    const { tenant } = callerOf(request, "read");
    const { id } = IdParams.parse(request.params);
    const stored = await getDeadLetter(await deps(), tenant, id);
    if (stored === undefined) throw notFound(id);
    return stored.view;
  });

  app.post("/v1/dlq/:id/replay", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const { id } = IdParams.parse(request.params);
    const replayed = await replayDeadLetter(await deps(), tenant, id);
    if (replayed === undefined) throw notFound(id);
    reply.code(202);
    return { id, status: "queued" };
  });

  app.delete("/v1/dlq/:id", async (request, reply) => {
    const { tenant } = callerOf(request, "admin");
    const { id } = IdParams.parse(request.params);
    if (!(await deleteDeadLetter(await deps(), tenant, id))) throw notFound(id);
    return reply.code(204).send();
  });
}
