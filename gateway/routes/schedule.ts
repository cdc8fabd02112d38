import type { FastifyInstance, FastifyReply } from "fastify";
import {
  BatchProgress,
  decode,
  ID_PATTERN,
  requestError,
  requestOf,
  RescheduleRequest,
} from "../../protocol/index.ts";
import {
  cancelScheduled,
  readMessageStatus,
  rescheduleScheduled,
  readScheduledVolume,
  type CancelAnswer,
} from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import type { GatewayDeps } from "../nats-state.ts";
import { HttpError } from "../http-error.ts";
import { callerOf } from "./caller.ts";
import { asAcceptFailure } from "./messages.ts";

/**
 * Scheduling routes: cancel and reschedule what is not released yet.
 *
 *  POST  /v1/messages/{id}/cancel   a request id cancels all its recipients, a recipient id one
 *  POST  /v1/batches/{id}/cancel
 *  PATCH /v1/messages/{id}          {"sendAt"}: a request id
 *  PATCH /v1/batches/{id}           {"sendAt"}
 *
 * 200 `{id, state, recipients, cancelled, alreadySent}` when something was cancelled; 409
 * `already_sent` (with the same counts) when nothing could be, because it was handed to
 * delivery already; 404 for what this tenant never sent.
 */
export function scheduleRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const deps = async (): Promise<GatewayDeps> => ctx.deps();
  const control = (d: GatewayDeps) => ({ schedules: d.schedules, publisher: d.producer.publisher ?? missingPublisher() });

  app.post<{ Params: { id: string } }>("/v1/messages/:id/cancel", async (request, reply) => {
    const { tenant } = callerOf(request, "send");
    const id = request.params.id;
    const recipient = requestOf(id);
    const requestId = recipient?.requestId ?? id;
    if (!ID_PATTERN.test(requestId)) throw new HttpError(400, "invalid_id", `"${id}" is neither a request id nor a recipient id`, "id");
    const d = await deps();
    const answer = await cancelScheduled(control(d), tenant, requestId, recipient?.index, Date.now()).catch(rethrow);
    return answerCancel(reply, id, answer, () => sentWithoutSchedule(d, tenant, requestId, recipient?.index));
  });

  app.post<{ Params: { id: string } }>("/v1/batches/:id/cancel", async (request, reply) => {
    const { tenant } = callerOf(request, "send");
    const id = request.params.id;
    if (!ID_PATTERN.test(id)) throw new HttpError(404, "not_found", `no batch ${id}`);
    const d = await deps();
    const answer = await cancelScheduled(control(d), tenant, id, undefined, Date.now()).catch(rethrow);
    return answerCancel(reply, id, answer, () => batchWithoutSchedule(d, tenant, id));
  });

  // The tenant's own scheduled volume: recipients the next 24 hours release, hour by hour.
  app.get("/v1/schedules/volume", async (request) => {
    const { tenant } = callerOf(request, "read");
    return readScheduledVolume((await deps()).schedules, Date.now(), tenant).catch(rethrow);
  });

  for (const kind of ["messages", "batches"] as const) {
    app.patch<{ Params: { id: string } }>(`/v1/${kind}/:id`, async (request) => {
      const { tenant } = callerOf(request, "send");
      const id = request.params.id;
      if (!ID_PATTERN.test(id)) throw new HttpError(400, "invalid_id", `"${id}" is not a request id: a recipient cannot be rescheduled alone`, "id");
      const body = RescheduleRequest.safeParse(request.body);
      if (!body.success) throw requestError(body.error, "request");
      const d = await deps();
      const answer = await rescheduleScheduled(control(d), tenant, id, body.data.sendAt, Date.now(), ctx.config.schedule.horizonMs).catch(rethrow);
      if (answer.kind === "none") throw new HttpError(404, "not_found", `no scheduled ${kind === "batches" ? "batch" : "request"} ${id}`, "id");
      if (answer.kind === "not_scheduled") throw new HttpError(409, "not_scheduled", `${id} is ${answer.state}: only what is still scheduled can be rescheduled`);
      const r = answer.record;
      return { id, state: r.state, sendAt: new Date(r.start).toISOString(), recipients: r.recipients };
    });
  }
}

const rethrow = (e: unknown): never => {
  throw asAcceptFailure(e);
};

const missingPublisher = (): never => {
  throw new HttpError(503, "nats_unavailable", "the gateway has no JetStream publisher; retry later", undefined, { "retry-after": "2" });
};

/** Recipients of a request that was never scheduled (sent at once), or undefined when there is no such request. */
async function sentWithoutSchedule(d: GatewayDeps, tenant: string, requestId: string, index: number | undefined): Promise<number | undefined> {
  const status = await readMessageStatus(d.status, tenant, `${requestId}-${index ?? 0}`).catch(rethrow);
  return status === undefined ? undefined : 1;
}

async function batchWithoutSchedule(d: GatewayDeps, tenant: string, batchId: string): Promise<number | undefined> {
  const entry = await d.batches.get(batchId).catch(rethrow);
  if (entry === null || entry.operation !== "PUT") return undefined;
  const decoded = decode(BatchProgress, entry.value, "batch progress");
  return decoded.ok && decoded.value.tenant === tenant ? decoded.value.total : undefined;
}

async function answerCancel(reply: FastifyReply, id: string, answer: CancelAnswer, unscheduled: () => Promise<number | undefined>): Promise<unknown> {
  if (answer.kind === "none") {
    // Not scheduled: either sent at once (409: already handed to delivery) or unknown here.
    const sent = await unscheduled();
    if (sent === undefined) throw new HttpError(404, "not_found", `no message or request ${id}`, "id");
    return reply.code(409).send({ error: { code: "already_sent", message: `${id} was not scheduled: it was handed to delivery at once` }, id, cancelled: 0, alreadySent: sent });
  }
  const body = { id, state: answer.state, recipients: answer.recipients, cancelled: answer.cancelled, alreadySent: answer.alreadySent };
  if (answer.cancelled > 0) return reply.code(200).send(body);
  const why = answer.state === "scheduled" ? "already handed to delivery" : `already ${answer.state}`;
  return reply.code(409).send({ error: { code: answer.state === "scheduled" || answer.state === "released" ? "already_sent" : `already_${answer.state}`, message: `nothing to cancel: ${why}` }, ...body });
}
