import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { BreakerState, decode, TenantSettings } from "../../protocol/index.ts";

/**
 * What the node needs of `sluice_tenants`, kept live by a watch: fair-share weights and
 * which tenants the reputation breaker has paused. One table per process: every
 * destination actor of the node reads it (weights on each DRR turn), and the bucket holds
 * the same values for every node of the cluster.
 */
const weights = new Map<string, number>();
const paused = new Set<string>();

/** A tenant's weight (1 when it has no settings). */
export const tenantWeight = (tenant: string): number => weights.get(tenant) ?? 1;

/** The breaker has paused this tenant: its bulk mail is held. */
export const tenantPaused = (tenant: string): boolean => paused.has(tenant);

const BREAKER_SUFFIX = ".breaker";

function apply(key: string, value: Uint8Array | undefined): void {
  if (key.endsWith(BREAKER_SUFFIX)) {
    const tenant = key.slice(0, -BREAKER_SUFFIX.length);
    const decoded = value === undefined ? undefined : decode(BreakerState, value, "breaker state");
    if (decoded?.ok && decoded.value.status === "paused") paused.add(tenant);
    else paused.delete(tenant);
    return;
  }
  const decoded = value === undefined ? undefined : decode(TenantSettings, value, "tenant settings");
  if (decoded?.ok && decoded.value.weight !== 1) weights.set(key, decoded.value.weight);
  else weights.delete(key);
}

/** Follow the bucket; resolves once what it holds now has been read. Returns how to stop. */
export async function watchTenantSettings(kv: KV, logger: Logger): Promise<() => void> {
  const initial = (await kv.status()).values;
  const iter = await kv.watch();
  let ready: () => void = () => undefined;
  const replayed = new Promise<void>((r) => (ready = r));
  if (initial === 0) ready();
  void (async () => {
    for await (const e of iter) {
      apply(e.key, e.operation === "PUT" ? e.value : undefined);
      if (e.delta === 0) ready();
    }
  })().catch((err: unknown) => logger.warn({ err }, "tenant settings watch ended; weights and pauses stay as they were"));
  await Promise.race([replayed, new Promise((r) => setTimeout(r, 2000).unref())]);
  return () => iter.stop();
}
