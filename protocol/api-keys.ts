import { createHash, randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { decode, encode } from "./codec.ts";
import { listKeys } from "./kv-keys.ts";
import { validationError } from "./errors.ts";
import { Tenant } from "./schemas/delivery.ts";

/**
 * API keys. The key itself is shown once, at creation; KV `sluice_keys` holds only its
 * SHA-256 (hex) as the entry key, so a lookup is one KV get and a leaked bucket leaks no key.
 * The key id is the first 12 hex digits of that hash: safe to print, log and revoke by.
 *
 * Every key belongs to one tenant and sees that tenant only. An operator key (`operator:
 * true`, `sluice keys create --operator`) also sees cluster-wide figures that have no tenant
 * dimension (GET /v1/stats: nodes, queues, destinations); its tenant still scopes the
 * per-tenant routes (messages, DLQ, suppressions, webhooks).
 */

export const SCOPES = ["send", "read", "admin"] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;

export const ApiKeyRecord = z
  .object({
    tenant: Tenant,
    scopes: z.array(Scope).min(1),
    /** Requests per second for this key; absent = the gateway's SLUICE_KEY_RATE, 0 = unlimited. */
    rate: z.number().int().nonnegative().optional(),
    /** Sees every tenant's figures on the cluster-wide routes; absent = this tenant only. */
    operator: z.literal(true).optional(),
    createdAt: z.number().int(),
    revoked: z.boolean().optional(),
  })
  .strict();
export type ApiKeyRecord = z.infer<typeof ApiKeyRecord>;

const KEY_PREFIX = "sk_";
const KEY_PATTERN = /^sk_[A-Za-z0-9_-]{32}$/;

export const hashApiKey = (key: string): string => createHash("sha256").update(key).digest("hex");
export const keyIdOf = (hash: string): string => hash.slice(0, 12);

/** A new random key: `sk_` + 24 random bytes, base64url. */
export const generateApiKey = (): string => KEY_PREFIX + randomBytes(24).toString("base64url");

/** Parse "send,read" into scopes; a validation error names the unknown one. */
export function parseScopes(text: string): Scope[] {
  const scopes = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  for (const s of scopes) {
    if (!Scope.safeParse(s).success) throw validationError("invalid_scope", `unknown scope "${s}" (expected ${SCOPES.join(", ")})`, "scopes");
  }
  if (scopes.length === 0) throw validationError("invalid_scope", "at least one scope is needed", "scopes");
  return [...new Set(scopes)] as Scope[];
}

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
