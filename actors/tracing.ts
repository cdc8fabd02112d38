import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { extractTrace, sluiceMetrics, tracer, tracingExports } from "../protocol/telemetry/index.ts";
import type { Job, SendResult } from "./domain/job.ts";
import type { MxHost } from "./routing/index.ts";

/**
 * One delivery attempt as two spans continuing the message's trace (W3C traceparent from
 * the MAIL_SEND headers): the node's `deliver` span, from the moment the message entered
 * its destination's queue, and inside it the SMTP transaction. Also times the transaction
 * for sluice_smtp_transaction_seconds.
 *
 * When no span would leave the process (no OTLP endpoint, no test exporter) and the
 * per-attempt debug line is off, the spans are skipped: they were ~4% of the node's CPU
 * per message and nobody would see them.
 */
export async function tracedSend(destination: string, job: Job, host: MxHost, logger: Logger, send: () => Promise<SendResult>): Promise<SendResult> {
  if (!tracingExports() && !logger.isLevelEnabled("debug")) {
    const started = performance.now();
    const result = await send();
    recordDuration(destination, result, started);
    return result;
  }
  const parent = extractTrace(job.msg.headers);
  const deliver = tracer().startSpan(
    "sluice.node.deliver",
    {
      kind: SpanKind.CONSUMER,
      startTime: job.queuedAt > 0 ? job.queuedAt : undefined,
      attributes: {
        "messaging.system": "nats",
        "messaging.destination.name": job.msg.subject,
        "messaging.message.id": job.message.id,
        "sluice.tenant": job.message.tenant,
        "sluice.tier": job.message.tier,
        "sluice.destination": destination,
        "sluice.attempt": job.message.attempts.length + 1,
      },
    },
    parent,
  );
  const started = performance.now();
  const smtp = tracer().startSpan(
    `smtp ${host.host}`,
    { kind: SpanKind.CLIENT, attributes: { "server.address": host.host, "server.port": host.port, "network.protocol.name": "smtp" } },
    trace.setSpan(parent, deliver),
  );
  let result: SendResult;
  try {
    result = await context.with(trace.setSpan(parent, smtp), send);
  } catch (e) {
    smtp.recordException(e instanceof Error ? e : String(e));
    smtp.setStatus({ code: SpanStatusCode.ERROR });
    smtp.end();
    deliver.setStatus({ code: SpanStatusCode.ERROR });
    deliver.end();
    throw e;
  }
  const reply = result.reply;
  if (reply) {
    smtp.setAttribute("smtp.reply.code", reply.code);
    if (reply.enhanced) smtp.setAttribute("smtp.reply.enhanced", reply.enhanced);
  }
  smtp.setAttribute("sluice.outcome", result.kind === "delivered" ? "delivered" : result.classification.outcome);
  if (result.kind === "failed") {
    smtp.setStatus({ code: SpanStatusCode.ERROR, message: result.error });
    deliver.setStatus({ code: SpanStatusCode.ERROR, message: result.error });
  }
  // Logged inside the SMTP span: the line carries trace_id/span_id (pino mixin) beside messageId.
  context.with(trace.setSpan(parent, smtp), () =>
    logger.debug(
      { messageId: job.message.id, destination, mx: host.host, outcome: result.kind === "delivered" ? "delivered" : result.classification.outcome, code: reply?.code },
      "delivery attempt",
    ),
  );
  smtp.end();
  deliver.end();
  recordDuration(destination, result, started);
  return result;
}

function recordDuration(destination: string, result: SendResult, started: number): void {
  sluiceMetrics().smtpDuration.record((performance.now() - started) / 1000, {
    destination,
    outcome: result.kind === "delivered" ? "delivered" : result.classification.outcome,
  });
}
