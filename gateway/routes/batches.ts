import type { FastifyInstance } from "fastify";
import { metrics } from "@opentelemetry/api";
import { BatchProgress, batchState, decode, ID_PATTERN, parseBatchRequest } from "../../protocol/index.ts";
import { publishBatch, readBatchCounts } from "../../protocol/io/index.ts";
import { authOf, requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { idempotent } from "../idempotency.ts";
import { checkBatchVars, resolveTemplate } from "../templates.ts";
import { heldAnswer, withinQuota } from "../tenant-admission.ts";
import { asAcceptFailure, idempotencyKeyOf } from "./messages.ts";

const accepted = metrics.getMeter("sluice").createCounter("sluice_batch_recipients_accepted", {
  description: "Batch recipients accepted by the gateway (stored as a job for fan-out)",
});

/** POST /v1/batches (202 after the object-store writes and the MAIL_JOBS publish) and GET /v1/batches/{id} (progress and per-status counts). */
export function batchRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.post("/v1/batches", { bodyLimit: ctx.config.limits.maxBatchBytes, preHandler: requireScope("send") }, async (request, reply) => {
    const { tenant } = authOf(request);
    const resolved = await resolveTemplate(ctx, tenant, request.body).catch((e: unknown) => {
      throw asAcceptFailure(e);
    });
    const parsed = parseBatchRequest(resolved.body);
    if (!parsed.ok) throw parsed.error;
    const missingVars = checkBatchVars(parsed.value, resolved.ref?.strictVars === true);
    await ctx.domains.requireVerified(tenant, parsed.value.from.address);
    try {
      const deps = await ctx.deps();
      const answer = await idempotent(deps.idempotency, { tenant, route: "batches" }, idempotencyKeyOf(request), request.body, (requestId) =>
        withinQuota(ctx, tenant, parsed.value.recipients.length, async (hold) => {
          const done = await publishBatch(deps.producer, tenant, parsed.value, requestId, { missingVars, holdUntil: hold?.until });
          return hold === undefined ? done : { ...done, ...heldAnswer(hold) };
        }),
      );
      if (answer.replayed) reply.header("idempotent-replayed", "true");
      else accepted.add(parsed.value.recipients.length, { tier: parsed.value.tier });
      return reply.code(answer.status).send(answer.body);
    } catch (e) {
      throw asAcceptFailure(e);
    }
  });

  app.get<{ Params: { id: string } }>("/v1/batches/:id", { preHandler: requireScope("read") }, async (request) => {
    const { tenant } = authOf(request);
    const p = await loadBatch(ctx, tenant, request.params.id);
    // Per-status counts from the status index (recipients not indexed yet count as queued).
    const counts = await readBatchCounts((await ctx.deps()).batchCounts, tenant, p.batchId, p.total).catch((e: unknown) => {
      throw asAcceptFailure(e);
    });
    return {
      batchId: p.batchId,
      state: batchState(p.state, p.total, counts),
      total: p.total,
      expanded: p.expanded,
      ...(p.failed === undefined ? {} : { failed: p.failed }),
      ...(p.reason === undefined ? {} : { reason: p.reason }),
      missingVars: p.missingVars ?? 0,
      counts,
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
  });
}

/** A batch's progress record; 404 when missing or another tenant's (indistinguishable). */
export async function loadBatch(ctx: GatewayContext, tenant: string, id: string): Promise<BatchProgress> {
  const notFound = new HttpError(404, "not_found", `no batch ${id}`, "id");
  if (!ID_PATTERN.test(id)) throw notFound;
  const deps = await ctx.deps();
  const entry = await deps.batches.get(id).catch((e: unknown) => {
    throw asAcceptFailure(e);
  });
  if (entry === null || entry.operation !== "PUT") throw notFound;
  const decoded = decode(BatchProgress, entry.value, "batch progress");
  if (!decoded.ok || decoded.value.tenant !== tenant) throw notFound;
  return decoded.value;
}
