import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decode, encode, laneOf, MailEvent, subjects, type WebhookJob } from "../../protocol/index.ts";
import type { EndpointRegistry } from "./registry.ts";

/**
 * One event → one job per subscribed endpoint, on that endpoint's lane for the message.
 * The job's msgID makes a redelivered event (crash before ack) queue each job once.
 */
export async function fanOut(js: JetStreamClient, registry: EndpointRegistry, m: JsMsg, log: Logger): Promise<number> {
  const decoded = decode(MailEvent, m.data, "event");
  if (!decoded.ok) {
    log.warn({ subject: m.subject, err: decoded.error.message }, "skipping an invalid event");
    return 0;
  }
  const event = decoded.value;
  // An endpoint is sent what happened after it was registered, not the backlog before it.
  const endpoints = registry.subscribers(event.tenant, event.type).filter((e) => event.at >= e.createdAt);
  await Promise.all(
    endpoints.map((endpoint) => {
      const job: WebhookJob = { v: 1, endpointId: endpoint.id, event };
      return js.publish(subjects.webhook(endpoint.id, laneOf(event.messageId, endpoint.lanes)), encode(job), {
        msgID: `${event.id}.${endpoint.id}`,
      });
    }),
  );
  return endpoints.length;
}
