import type { JetStreamClient } from "@nats-io/jetstream";
import type { Kvm } from "@nats-io/kv";
import type { Logger } from "pino";
import { KV_BUCKETS } from "../../protocol/index.ts";
import { TenantHealth } from "./health.ts";
import { watchTenantSettings } from "./settings-watch.ts";

/** A node's share of the tenant work (issue 16): the settings watch (weights, pauses) and the breaker's reader. */
export async function startTenantServices(o: { js: JetStreamClient; kvm: Kvm; logger: Logger; flushMs: number }): Promise<{ stop(): Promise<void> }> {
  const [tenants, counters] = await Promise.all([o.kvm.open(KV_BUCKETS.tenants), o.kvm.open(KV_BUCKETS.tenantCounters)]);
  const stopWatch = await watchTenantSettings(tenants, o.logger);
  const health = new TenantHealth({ js: o.js, tenants, counters, logger: o.logger, flushMs: o.flushMs });
  health.start();
  return {
    stop: async () => {
      stopWatch();
      await health.stop();
    },
  };
}
