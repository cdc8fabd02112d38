import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { BreakerState, breakerKey, decode, KV_BUCKETS, tenantEventOf, type TenantStatus } from "../../protocol/index.ts";
import { getBreaker, listKeys } from "../../protocol/io/index.ts";
import { startStateEvents } from "../webhooks/state-events.ts";

const BREAKERS = breakerKey("*");
const tenantOf = (key: string): string => key.slice(0, key.indexOf("."));

/**
 * `tenant.paused` / `tenant.resumed` webhooks. The breaker (./health.ts) and `sluice tenants
 * resume` both write the tenant's `<tenant>.breaker` entry in `sluice_tenants`; a watch of
 * those entries (../webhooks/state-events.ts, as for the domain events) tells the subscribed
 * endpoints when a tenant goes into paused and when it comes out.
 */
export function startTenantEvents(nc: NatsConnection, logger: Logger): Promise<{ close(): Promise<void> }> {
  return startStateEvents<BreakerState, TenantStatus>(nc, logger, {
    bucket: KV_BUCKETS.tenants,
    key: BREAKERS,
    current: async (kv) => {
      const seen = new Map<string, TenantStatus>();
      for (const key of await listKeys(kv, BREAKERS)) {
        const state = await getBreaker(kv, tenantOf(key));
        if (state !== undefined) seen.set(key, state.status);
      }
      return seen;
    },
    decode: (value) => {
      const d = decode(BreakerState, value, "breaker state");
      return d.ok ? d.value : undefined;
    },
    statusOf: (state) => state.status,
    eventOf: (key, previous, state) => tenantEventOf(tenantOf(key), previous, state),
  });
}
