import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { decode, TenantSettings } from "../../protocol/index.ts";

/**
 * Fair-share weights of the tenants, kept live from KV `sluice_tenants` by a watch. One
 * table per process: every destination actor of the node reads it on each DRR turn, and
 * the bucket holds the same values for every node of the cluster.
 */
const weights = new Map<string, number>();

/** A tenant's weight (1 when it has no settings). */
export const tenantWeight = (tenant: string): number => weights.get(tenant) ?? 1;

/** Follow the bucket; returns how to stop. */
export async function watchTenantWeights(kv: KV, logger: Logger): Promise<() => void> {
  const iter = await kv.watch();
  void (async () => {
    for await (const e of iter) {
      if (e.operation !== "PUT") {
        weights.delete(e.key);
        continue;
      }
      const decoded = decode(TenantSettings, e.value, "tenant settings");
      if (decoded.ok && decoded.value.weight !== 1) weights.set(e.key, decoded.value.weight);
      else weights.delete(e.key);
    }
  })().catch((err: unknown) => logger.warn({ err }, "tenant settings watch ended; weights stay as they were"));
  return () => iter.stop();
}
