import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
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
export const KEY_PATTERN = /^sk_[A-Za-z0-9_-]{32}$/;

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
