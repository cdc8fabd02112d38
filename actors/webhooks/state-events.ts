import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { encode, errorMessage, KV_BUCKETS, subjects, webhookSubjectOf, type DomainEvent, type TenantEvent, type WebhookJob } from "../../protocol/index.ts";
import { laneOf } from "../../protocol/io/index.ts";
import { EndpointRegistry } from "./registry.ts";

/** Webhook events about something's state in a KV bucket, not about a message: a sender domain's, a tenant's breaker. */
export interface StateEvents<V, S> {
  bucket: string;
  /** The watched keys (a KV filter). */
  key: string;
  /** Each watched key's status now. */
  current(kv: KV): Promise<Map<string, S>>;
  /** A written entry, or undefined when it is unreadable (then forgotten). */
  decode(value: Uint8Array): V | undefined;
  statusOf(value: V): S;
  /** The event of a change from `previous` (undefined: not seen before), if it is one worth telling. */
  eventOf(key: string, previous: S | undefined, value: V): DomainEvent | TenantEvent | undefined;
}

/**
 * Watch `w.key` of a bucket, compare every write with the status seen before, and queue a
 * webhook job per endpoint of the tenant subscribed to the event's type and registered
 * before it happened (lane = the domain's or the tenant's). Every node with the `events`
 * role does the same: the job's msgID is the event's id and the endpoint's, so MAIL_WEBHOOKS
 * stores each once (duplicate window). A change made while no such node runs is not told.
 */
export async function startStateEvents<V, S>(nc: NatsConnection, logger: Logger, w: StateEvents<V, S>): Promise<{ close(): Promise<void> }> {
  const kvm = new Kvm(nc);
  const [kv, webhooksKv] = await Promise.all([kvm.open(w.bucket), kvm.open(KV_BUCKETS.webhooks)]);
  const registry = new EndpointRegistry(webhooksKv, { added: () => undefined, removed: () => undefined }, logger);
  await registry.start();
  const js = jetstream(nc);
  // Updates first, then the current statuses: a write in between is seen by one or the other.
  const watch = await kv.watch({ key: w.key, include: KvWatchInclude.UpdatesOnly });
  const seen = await w.current(kv);
  const done = (async () => {
    for await (const e of watch) {
      const value = e.operation === "PUT" ? w.decode(e.value) : undefined;
      if (value === undefined) {
        seen.delete(e.key);
        continue;
      }
      const event = w.eventOf(e.key, seen.get(e.key), value);
      seen.set(e.key, w.statusOf(value));
      if (event === undefined) continue;
      await queueEvent(js, registry, event).catch((err: unknown) => logger.warn({ err: errorMessage(err), tenant: event.tenant, type: event.type }, "state event webhook not queued"));
    }
  })().catch((err: unknown) => logger.error({ err, bucket: w.bucket }, "state events watch ended"));
  return {
    close: async () => {
      watch.stop();
      registry.stop();
      await done;
    },
  };
}

async function queueEvent(js: JetStreamClient, registry: EndpointRegistry, event: DomainEvent | TenantEvent): Promise<void> {
  const endpoints = registry.subscribers(event.tenant, event.type).filter((e) => event.at >= e.createdAt);
  await Promise.all(
    endpoints.map((endpoint) => {
      const job: WebhookJob = { v: 1, endpointId: endpoint.id, event };
      return js.publish(subjects.webhook(endpoint.id, laneOf(webhookSubjectOf(event), endpoint.lanes)), encode(job), { msgID: `${event.id}.${endpoint.id}` });
    }),
  );
}
