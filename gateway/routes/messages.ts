import type { FastifyInstance, FastifyRequest } from "fastify";
import { metrics } from "@opentelemetry/api";
import { envelopeRecipients, isSluiceError, parseSendRequest } from "../../protocol/index.ts";
import { publishFailure, publishSend } from "../../protocol/io/index.ts";
import { authOf, requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { idempotent } from "../idempotency.ts";
import { checkMessageVars, resolveTemplate } from "../templates.ts";
import { heldAnswer, withinQuota } from "../tenant-admission.ts";

const accepted = metrics.getMeter("sluice").createCounter("sluice_messages_accepted", {
  description: "Recipient messages accepted by the gateway (stored on MAIL_SEND)",
});

export const idempotencyKeyOf = (request: FastifyRequest): string | undefined => {
  const v = request.headers["idempotency-key"];
  return Array.isArray(v) ? v[0] : v;
};

/** Errors that are neither ours nor the caller's come from NATS: answer 503, not 500. */
export const asAcceptFailure = (e: unknown): unknown => (e instanceof HttpError || isSluiceError(e) ? e : publishFailure(e));

/** POST /v1/messages: 202 only once JetStream has acknowledged every recipient's message. */
export function messageRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.post(
    "/v1/messages",
    { bodyLimit: ctx.config.limits.maxMessageBytes, preHandler: requireScope("send") },
    async (request, reply) => {
      const { tenant } = authOf(request);
      const resolved = await resolveTemplate(ctx, tenant, request.body).catch((e: unknown) => {
        throw asAcceptFailure(e);
      });
      const parsed = parseSendRequest(resolved.body);
      if (!parsed.ok) throw parsed.error;
      checkMessageVars(parsed.value, resolved.ref?.strictVars === true);
      await ctx.domains.requireVerified(tenant, parsed.value.from.address);
      try {
        const deps = await ctx.deps();
        const answer = await idempotent(deps.idempotency, { tenant, route: "messages" }, idempotencyKeyOf(request), request.body, (requestId) =>
          withinQuota(ctx, tenant, envelopeRecipients(parsed.value).length, async (hold) => {
            const done = await publishSend(deps.producer, tenant, parsed.value, requestId, { holdUntil: hold?.until });
            return hold === undefined ? done : { ...done, recipients: done.recipients.map((r) => ({ ...r, status: "held" as const })), ...heldAnswer(hold) };
          }),
        );
        if (answer.replayed) reply.header("idempotent-replayed", "true");
        else accepted.add((answer.body as { recipients: unknown[] }).recipients.length, { tier: parsed.value.tier });
        return reply.code(answer.status).send(answer.body);
      } catch (e) {
        throw asAcceptFailure(e);
      }
    },
  );
}
