import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { errorMessage, KV_BUCKETS } from "../../protocol/index.ts";
import { tenantOverview } from "../../protocol/io/index.ts";
import { renderTenants, tenantLines } from "./tenants.ts";

/**
 * The tenants' section of each `sluice top` frame: reads the overview (KV and stream
 * counts) per frame, keeps the previous frame's delivered counts for the rate. A cluster
 * without the tenant buckets, or NATS trouble, shows as one line rather than stopping top.
 */
export function tenantSection(nc: NatsConnection): { render(counts: { inFlight: Record<string, number>; overQuota: Record<string, number> }, opts: { max: number; width?: number }): Promise<string> } {
  let stores: Promise<Parameters<typeof tenantOverview>[0]> | undefined;
  let previous: { at: number; delivered: Map<string, number> } | undefined;
  const open = async (): Promise<Parameters<typeof tenantOverview>[0]> => {
    const kvm = new Kvm(nc);
    const [jsm, tenants, counters] = await Promise.all([jetstreamManager(nc, { timeout: 2000 }), kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.tenantCounters)]);
    return { jsm, tenants, counters };
  };
  return {
    render: async (counts, opts) => {
      try {
        stores ??= open();
        const rows = await tenantOverview(await stores);
        const now = Date.now();
        const lines = tenantLines(rows, counts, previous, now);
        previous = { at: now, delivered: new Map(rows.map((r) => [r.tenant, r.delivered])) };
        return renderTenants(lines, opts);
      } catch (e) {
        stores = undefined;
        return `tenants: unavailable (${errorMessage(e)})\n`;
      }
    },
  };
}
