import type { KV } from "@nats-io/kv";
import { decode, encode } from "../codec.ts";
import { listKeys } from "./kv-keys.ts";
import { validationError } from "../errors.ts";
import { Tenant } from "../schemas/delivery.ts";
import { Scope, ApiKeyRecord, hashApiKey, keyIdOf, generateApiKey, KEY_PATTERN } from "../api-keys.ts";

export async function createApiKey(kv: KV, o: { tenant: string; scopes: Scope[]; rate?: number; operator?: boolean; now?: number }): Promise<{ key: string; keyId: string; record: ApiKeyRecord }> {
  if (!Tenant.safeParse(o.tenant).success) {
    throw validationError("invalid_tenant", `tenant "${o.tenant}" is not a tenant name ([a-z0-9][a-z0-9_-]*, at most 63)`, "tenant");
  }
  const record = ApiKeyRecord.parse({ tenant: o.tenant, scopes: o.scopes, rate: o.rate, operator: o.operator === true ? true : undefined, createdAt: o.now ?? Date.now() });
  const key = generateApiKey();
  const hash = hashApiKey(key);
  await kv.create(hash, encode(record));
  return { key, keyId: keyIdOf(hash), record };
}

/** The record of a presented key; undefined when unknown, malformed or revoked. */
export async function lookupApiKey(kv: KV, key: string): Promise<(ApiKeyRecord & { keyId: string }) | undefined> {
  if (!KEY_PATTERN.test(key)) return undefined;
  const hash = hashApiKey(key);
  const entry = await kv.get(hash);
  if (entry === null || entry.operation !== "PUT") return undefined;
  const decoded = decode(ApiKeyRecord, entry.value, "api key record");
  if (!decoded.ok || decoded.value.revoked === true) return undefined;
  return { ...decoded.value, keyId: keyIdOf(hash) };
}

export async function listApiKeys(kv: KV): Promise<(ApiKeyRecord & { keyId: string })[]> {
  const out: (ApiKeyRecord & { keyId: string })[] = [];
  for (const hash of await listKeys(kv)) {
    const entry = await kv.get(hash);
    if (entry === null || entry.operation !== "PUT") continue;
    const decoded = decode(ApiKeyRecord, entry.value, "api key record");
    if (decoded.ok) out.push({ ...decoded.value, keyId: keyIdOf(hash) });
  }
  return out.sort((a, b) => a.createdAt - b.createdAt);
}

/** Mark a key revoked (kept, so `keys list` shows it); false when no key has that id. */
export async function revokeApiKey(kv: KV, keyId: string): Promise<boolean> {
  if (!/^[0-9a-f]{12}$/.test(keyId)) throw validationError("invalid_key_id", `"${keyId}" is not a key id (12 hex digits, see 'sluice keys list')`, "keyId");
  for (const hash of await listKeys(kv)) {
    if (keyIdOf(hash) !== keyId) continue;
    const entry = await kv.get(hash);
    if (entry === null || entry.operation !== "PUT") continue;
    const decoded = decode(ApiKeyRecord, entry.value, "api key record");
    if (!decoded.ok) continue;
    await kv.put(hash, encode({ ...decoded.value, revoked: true }));
    return true;
  }
  return false;
}
