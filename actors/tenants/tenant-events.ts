import { jetstream } from "@nats-io/jetstream";
import { Kvm, KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { BreakerState, breakerKey, decode, errorMessage, KV_BUCKETS, tenantEventOf, type TenantStatus } from "../../protocol/index.ts";
import { getBreaker, listKeys } from "../../protocol/io/index.ts";
import { queueEvent } from "../webhooks/queue-event.ts";
import { EndpointRegistry } from "../webhooks/registry.ts";

const BREAKERS = breakerKey("*");

/**
 * `tenant.paused` / `tenant.resumed` webhooks. The breaker (actors/tenants/health.ts) and
 * `sluice tenants resume` both write the tenant's `<tenant>.breaker` entry in
 * `sluice_tenants`; this watch sees every such write, compares it with the status it saw
 * before, and queues a webhook job per subscribed endpoint — the same way as the domain
 * events (every node with the `events` role does it; deterministic ids store each once).
 */
export async function startTenantEvents(nc: NatsConnection, logger: Logger): Promise<{ close(): Promise<void> }> {
  const kvm = new Kvm(nc);
  const [kv, webhooksKv] = await Promise.all([kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.webhooks)]);
  const registry = new EndpointRegistry(webhooksKv, { added: () => undefined, removed: () => undefined }, logger);
  await registry.start();
  const js = jetstream(nc);
  const seen = new Map<string, TenantStatus>();
  // Updates first, then the current states: a write in between is seen by one or the other.
  const watch = await kv.watch({ key: BREAKERS, include: KvWatchInclude.UpdatesOnly });
  for (const key of await listKeys(kv, BREAKERS)) {
    const state = await getBreaker(kv, key.slice(0, key.indexOf(".")));
    if (state !== undefined) seen.set(key, state.status);
  }
  const done = (async () => {
    for await (const e of watch) {
      const tenant = e.key.slice(0, e.key.indexOf("."));
      const decoded = e.operation === "PUT" ? decode(BreakerState, e.value, "breaker state") : undefined;
      if (decoded === undefined || !decoded.ok) {
        seen.delete(e.key);
        continue;
      }
      const event = tenantEventOf(tenant, seen.get(e.key), decoded.value);
      seen.set(e.key, decoded.value.status);
      if (event === undefined) continue;
      await queueEvent(js, registry, event).catch((err: unknown) => logger.warn({ err: errorMessage(err), tenant, type: event.type }, "tenant event webhook not queued"));
    }
  })().catch((err: unknown) => logger.error({ err }, "tenant events watch ended"));
  return {
    close: async () => {
      watch.stop();
      registry.stop();
      await done;
    },
  };
}
