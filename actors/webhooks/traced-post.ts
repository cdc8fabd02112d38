import type { JsMsg } from "@nats-io/jetstream";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { extractTrace, tracer } from "../../protocol/telemetry/index.ts";
import { webhookSubjectOf, type WebhookEvent } from "../../protocol/index.ts";
import type { PostOutcome } from "./post.ts";

/** The webhook POST as a CLIENT span in the trace of the message the event is about. */
export async function tracedPost(m: JsMsg, url: string, event: WebhookEvent, post: () => Promise<PostOutcome>): Promise<PostOutcome> {
  const span = tracer().startSpan(
    "webhook POST",
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "url.full": url,
        "http.request.method": "POST",
        "sluice.event.type": event.type,
        "messaging.message.id": webhookSubjectOf(event),
        "sluice.webhook.attempt": m.info.deliveryCount,
      },
    },
    extractTrace(m.headers),
  );
  try {
    const outcome = await post();
    if (outcome.status !== undefined) span.setAttribute("http.response.status_code", outcome.status);
    if (!outcome.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error });
    return outcome;
  } finally {
    span.end();
  }
}
