import type { JetStreamClient } from "@nats-io/jetstream";
import { encode, subjects, webhookSubjectOf, type DomainEvent, type TenantEvent, type WebhookJob } from "../../protocol/index.ts";
import { laneOf } from "../../protocol/io/index.ts";
import type { EndpointRegistry } from "./registry.ts";

/**
 * Queue an event that is about no message (a domain's or a tenant's) for every endpoint of
 * its tenant subscribed to its type and registered before it happened; the lane is the
 * domain's or the tenant's. The job's msgID is the event's id and the endpoint's, so every
 * node that sees the same change queues it once (MAIL_WEBHOOKS' duplicate window).
 */
export async function queueEvent(js: JetStreamClient, registry: EndpointRegistry, event: DomainEvent | TenantEvent): Promise<void> {
  const endpoints = registry.subscribers(event.tenant, event.type).filter((e) => event.at >= e.createdAt);
  await Promise.all(
    endpoints.map((endpoint) => {
      const job: WebhookJob = { v: 1, endpointId: endpoint.id, event };
      return js.publish(subjects.webhook(endpoint.id, laneOf(webhookSubjectOf(event), endpoint.lanes)), encode(job), { msgID: `${event.id}.${endpoint.id}` });
    }),
  );
}
