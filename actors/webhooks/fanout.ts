import type { JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { encode, subjects, type MailEvent, type WebhookJob } from "../../protocol/index.ts";
import { laneOf } from "../../protocol/io/index.ts";
import { forwardTrace } from "../../protocol/telemetry/index.ts";
import type { EndpointRegistry } from "./registry.ts";

/**
 * One event → one job per subscribed endpoint, on that endpoint's lane for the message.
 * The job's msgID makes a redelivered event (crash before ack) queue each job once.
 *
 * `headers` are the event's: its trace continues on the jobs to the webhook POST.
 */
export async function fanOut(js: JetStreamClient, registry: EndpointRegistry, event: MailEvent, headers?: MsgHdrs): Promise<number> {
  // An endpoint is sent what happened after it was registered, not the backlog before it.
  const endpoints = registry.subscribers(event.tenant, event.type).filter((e) => event.at >= e.createdAt);
  const trace = forwardTrace(headers);
  await Promise.all(
    endpoints.map((endpoint) => {
      const job: WebhookJob = { v: 1, endpointId: endpoint.id, event };
      return js.publish(subjects.webhook(endpoint.id, laneOf(event.messageId, endpoint.lanes)), encode(job), {
        msgID: `${event.id}.${endpoint.id}`,
        headers: trace,
      });
    }),
  );
  return endpoints.length;
}

