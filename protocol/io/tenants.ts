import type { KV } from "@nats-io/kv";
import { decode, encode } from "../codec.ts";
import { validationError } from "../errors.ts";
import { listKeys } from "./kv-keys.ts";
import { Tenant } from "../schemas/delivery.ts";
import { reservationSize, TenantSettings, DEFAULT_TENANT_SETTINGS, type TenantSettingsInput } from "../tenants.ts";

/** A tenant's settings in `sluice_tenants`, or the defaults when it has no entry (or an unreadable one). */
export async function getTenantSettings(kv: KV, tenant: string): Promise<{ settings: TenantSettings; stored: boolean }> {
  const e = await kv.get(tenant);
  if (e === null || e.operation !== "PUT") return { settings: DEFAULT_TENANT_SETTINGS, stored: false };
  const decoded = decode(TenantSettings, e.value, "tenant settings");
  return decoded.ok ? { settings: decoded.value, stored: true } : { settings: DEFAULT_TENANT_SETTINGS, stored: false };
}

/** Merge `changes` into the stored settings (unset fields keep their value) and store them. */
export async function setTenantSettings(kv: KV, tenant: string, changes: TenantSettingsInput, now = Date.now()): Promise<TenantSettings> {
  if (!Tenant.safeParse(tenant).success) throw validationError("invalid_tenant", `tenant "${tenant}" is not a tenant name ([a-z0-9][a-z0-9_-]*, at most 63)`, "tenant");
  const { settings } = await getTenantSettings(kv, tenant);
  const merged = TenantSettings.safeParse({ ...settings, ...changes, reputation: { ...settings.reputation, ...changes.reputation }, updatedAt: now });
  if (!merged.success) {
    const issue = merged.error.issues[0];
    throw validationError("invalid_tenant_settings", `${issue?.path.join(".") ?? "settings"}: ${issue?.message ?? "invalid"}`);
  }
  await kv.put(tenant, encode(merged.data));
  return merged.data;
}

export async function listTenantSettings(kv: KV): Promise<{ tenant: string; settings: TenantSettings }[]> {
  const out: { tenant: string; settings: TenantSettings }[] = [];
  // Other entries of the bucket (`<tenant>.breaker`) have a dot; tenant names never do.
  for (const tenant of (await listKeys(kv)).filter((k) => !k.includes(".")).sort()) {
    const { settings, stored } = await getTenantSettings(kv, tenant);
    if (stored) out.push({ tenant, settings });
  }
  return out;
}

/** A counter's value and revision (0 = absent: create it). */
async function readCounter(kv: KV, key: string): Promise<{ value: number; revision: number }> {
  const e = await kv.get(key);
  if (e === null || e.operation !== "PUT") return { value: 0, revision: 0 };
  const value = Number(e.string());
  return { value: Number.isFinite(value) && value >= 0 ? value : 0, revision: e.revision };
}

/** Today's reserved total of a counter (what `GET /v1/tenant` and `sluice tenants show` report as used). */
export async function counterValue(kv: KV, key: string): Promise<number> {
  return (await readCounter(kv, key)).value;
}

/** Compare-and-set `key` from its current value to `next(value)`; retried on a concurrent writer. */
async function casCounter(kv: KV, key: string, next: (value: number) => number | undefined): Promise<{ before: number; after: number } | undefined> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const { value, revision } = await readCounter(kv, key);
    const after = next(value);
    if (after === undefined) return undefined;
    try {
      if (revision === 0) await kv.create(key, encode(after));
      else await kv.update(key, encode(after), revision);
      return { before: value, after };
    } catch (e) {
      // Another gateway wrote first (wrong last sequence / key exists): read again.
      if (!/wrong last sequence|key exists|10071/i.test(String((e as Error).message))) throw e;
    }
  }
  throw new Error(`counter ${key}: too much contention`);
}

/**
 * Reserve from a shared counter capped at `limit`: at least `need`, up to a block (see
 * reservationSize). Returns how much was reserved (0 = the limit is reached) and the
 * counter's value before.
 */
export async function reserveBlock(kv: KV, key: string, o: { need: number; block: number; limit: number }): Promise<{ reserved: number; used: number }> {
  let reserved = 0;
  let used = 0;
  const r = await casCounter(kv, key, (value) => {
    used = value;
    reserved = reservationSize({ need: o.need, block: o.block, used: value, quota: o.limit });
    return reserved > 0 ? value + reserved : undefined;
  });
  return r === undefined ? { reserved: 0, used } : { reserved, used: r.before };
}

/** Give `amount` back to a shared counter (never below zero). */
export async function releaseBlock(kv: KV, key: string, amount: number): Promise<void> {
  if (amount <= 0) return;
  await casCounter(kv, key, (value) => Math.max(0, value - amount));
}
