import type { FastifyInstance } from "fastify";
import { metrics } from "@opentelemetry/api";
import { BatchProgress, decode, ID_PATTERN, parseBatchRequest } from "../../protocol/index.ts";
import { publishBatch, readBatchCounts } from "../../protocol/io/index.ts";
import { authOf, requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { idempotent } from "../idempotency.ts";
import { withinQuota } from "../tenant-admission.ts";
import { asAcceptFailure, idempotencyKeyOf } from "./messages.ts";

const accepted = metrics.getMeter("sluice").createCounter("sluice_batch_recipients_accepted", {
  description: "Batch recipients accepted by the gateway (stored as a job for fan-out)",
});

/** POST /v1/batches (202 after the object-store writes and the MAIL_JOBS publish) and GET /v1/batches/{id} (progress and per-status counts). */
export function batchRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.post("/v1/batches", { bodyLimit: ctx.config.limits.maxBatchBytes, preHandler: requireScope("send") }, async (request, reply) => {
    const { tenant } = authOf(request);
    const parsed = parseBatchRequest(request.body);
    if (!parsed.ok) throw parsed.error;
    try {
      const deps = await ctx.deps();
      const answer = await idempotent(deps.idempotency, { tenant, route: "batches" }, idempotencyKeyOf(request), request.body, (requestId) =>
        withinQuota(ctx, tenant, parsed.value.recipients.length, () => publishBatch(deps.producer, tenant, parsed.value, requestId)),
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
    const id = request.params.id;
    const notFound = new HttpError(404, "not_found", `no batch ${id}`);
    if (!ID_PATTERN.test(id)) throw notFound;
    const deps = await ctx.deps();
    const entry = await deps.batches.get(id).catch((e: unknown) => {
      throw asAcceptFailure(e);
    });
    if (entry === null || entry.operation !== "PUT") throw notFound;
    const decoded = decode(BatchProgress, entry.value, "batch progress");
    // Another tenant's batch is indistinguishable from a missing one.
    if (!decoded.ok || decoded.value.tenant !== tenant) throw notFound;
    const p = decoded.value;
    // Per-status counts from the status index (recipients not indexed yet count as queued).
    const counts = await readBatchCounts((await ctx.deps()).batchCounts, tenant, p.batchId, p.total).catch((e: unknown) => {
      throw asAcceptFailure(e);
    });
    return {
      batchId: p.batchId,
      state: p.state,
      total: p.total,
      expanded: p.expanded,
      ...(p.failed === undefined ? {} : { failed: p.failed }),
      ...(p.reason === undefined ? {} : { reason: p.reason }),
      counts,
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
    };
  });
}
