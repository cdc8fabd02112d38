import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { releaseHeld } from "./held.ts";
import { decode, encode } from "../codec.ts";
import { addToWindow, BreakerState, breakerKey, HealthWindow, healthWindowKey, type HealthCounts } from "../tenant-health.ts";

const isConflict = (e: unknown): boolean => /wrong last sequence|key exists|10071/i.test(String((e as Error).message));

/** Add counts to a tenant's 24 h window (compare-and-set: several nodes add at once). Returns the new window. */
export async function addHealthCounts(kv: KV, tenant: string, at: number, counts: HealthCounts): Promise<HealthWindow> {
  const key = healthWindowKey(tenant);
  for (let attempt = 0; attempt < 50; attempt++) {
    const e = await kv.get(key);
    const present = e !== null && e.operation === "PUT";
    const decoded = present ? decode(HealthWindow, e.value, "health window") : undefined;
    const next = addToWindow(decoded?.ok ? decoded.value : { hours: [] }, at, counts);
    try {
      if (present) await kv.update(key, encode(next), e.revision);
      else await kv.create(key, encode(next));
      return next;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  throw new Error(`health window of ${tenant}: too much contention`);
}

export async function readHealthWindow(kv: KV, tenant: string): Promise<HealthWindow> {
  const e = await kv.get(healthWindowKey(tenant));
  if (e === null || e.operation !== "PUT") return { hours: [] };
  const decoded = decode(HealthWindow, e.value, "health window");
  return decoded.ok ? decoded.value : { hours: [] };
}

/** Forget a tenant's counts (after an operator's resume: it starts afresh). */
export async function resetHealthWindow(kv: KV, tenant: string): Promise<void> {
  await kv.delete(healthWindowKey(tenant));
}

/** A tenant's breaker state; absent = healthy. */
export async function getBreaker(kv: KV, tenant: string): Promise<BreakerState | undefined> {
  const e = await kv.get(breakerKey(tenant));
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(BreakerState, e.value, "breaker state");
  return decoded.ok ? decoded.value : undefined;
}

export async function setBreaker(kv: KV, tenant: string, state: BreakerState): Promise<void> {
  await kv.put(breakerKey(tenant), encode(state));
}

/**
 * An operator lifts a pause (`sluice tenants resume`): healthy again with a fresh window
 * (else the same counts would pause it at once), then its held mail goes back on MAIL_SEND.
 */
export async function resumeTenant(d: { js: JetStreamClient; jsm: JetStreamManager; tenants: KV; counters: KV }, tenant: string, now = Date.now()): Promise<{ released: number }> {
  await resetHealthWindow(d.counters, tenant);
  await setBreaker(d.tenants, tenant, { status: "healthy", since: now, reason: "resumed by an operator" });
  return { released: await releaseHeld(d.js, d.jsm, tenant) };
}
