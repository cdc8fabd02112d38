import { jetstream } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  decode,
  DomainEntry,
  domainEventOf,
  domainKeys,
  KV_BUCKETS,
  errorMessage,
  type Config,
  type DomainStatus,
} from "../../protocol/index.ts";
import { listDomains } from "../../protocol/io/index.ts";
import { queueEvent } from "../webhooks/queue-event.ts";
import { EndpointRegistry } from "../webhooks/registry.ts";

/**
 * `domain.verified` / `domain.failed` webhooks. Whoever changes a domain's status — the
 * verify route, `sluice domains verify`, the periodic re-check — writes KV
 * `sluice_domains`; this watch sees every such write, compares with the status it saw
 * before, and queues a webhook job per subscribed endpoint (lane = the domain's). Every
 * node with the `events` role does the same: the job ids are deterministic, so MAIL_WEBHOOKS
 * stores each once (duplicate window). A change made while no such node runs is not told.
 */
export async function startDomainEvents(nc: NatsConnection, config: Config, logger: Logger): Promise<{ close(): Promise<void> }> {
  const kvm = new Kvm(nc);
  const [kv, webhooksKv] = await Promise.all([kvm.open(KV_BUCKETS.domains), kvm.open(KV_BUCKETS.webhooks)]);
  const registry = new EndpointRegistry(webhooksKv, { added: () => undefined, removed: () => undefined }, logger);
  await registry.start();
  const js = jetstream(nc);
  const seen = new Map<string, DomainStatus>();
  // Updates first, then the current statuses: a write in between is seen by one or the other.
  const watch = await kv.watch({ key: domainKeys.allEntries, include: KvWatchInclude.UpdatesOnly });
  for (const e of await listDomains(kv)) seen.set(domainKeys.entry(e.tenant, e.domain), e.status);

  const done = (async () => {
    for await (const e of watch) {
      if (e.operation !== "PUT") {
        seen.delete(e.key);
        continue;
      }
      const decoded = decode(DomainEntry, e.value, "domain entry");
      if (!decoded.ok) continue;
      const event = domainEventOf(seen.get(e.key), decoded.value, config.domains);
      seen.set(e.key, decoded.value.status);
      if (event === undefined) continue;
      await queueEvent(js, registry, event).catch((err: unknown) => logger.warn({ err: errorMessage(err), domain: event.domain, type: event.type }, "domain event webhook not queued"));
    }
  })().catch((err: unknown) => logger.error({ err }, "domain events watch ended"));
  return {
    close: async () => {
      watch.stop();
      registry.stop();
      await done;
    },
  };
}
