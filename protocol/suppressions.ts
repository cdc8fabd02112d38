import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { decode, encode } from "./codec.ts";

/**
 * The suppression list, one KV entry per (tenant, address). An address is compared
 * lower-cased: providers treat local parts case-insensitively in practice, and a list
 * that misses "Bob@x" because "bob@x" bounced would keep hurting the sender's reputation.
 */
export const Suppression = z
  .object({
    address: z.string(),
    reason: z.enum(["hard_bounce", "complaint", "manual", "unsubscribe"]),
    detail: z.string().max(1000).optional(),
    at: z.number().int(),
  })
  .strict();
export type Suppression = z.infer<typeof Suppression>;

/** KV keys allow [-/_=.a-zA-Z0-9]: the address is base64url-encoded behind the tenant. */
export const suppressionKey = (tenant: string, address: string): string =>
  `${tenant}.${Buffer.from(address.trim().toLowerCase()).toString("base64url")}`;

export async function addSuppression(kv: KV, tenant: string, entry: Suppression): Promise<void> {
  await kv.put(suppressionKey(tenant, entry.address), encode({ ...entry, address: entry.address.trim().toLowerCase() }));
}

export async function getSuppression(kv: KV, tenant: string, address: string): Promise<Suppression | undefined> {
  const e = await kv.get(suppressionKey(tenant, address));
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(Suppression, e.value, "suppression");
  return decoded.ok ? decoded.value : undefined;
}

export async function removeSuppression(kv: KV, tenant: string, address: string): Promise<boolean> {
  const existing = await getSuppression(kv, tenant, address);
  if (existing === undefined) return false;
  await kv.delete(suppressionKey(tenant, address));
  return true;
}

/** Every suppression of one tenant, at most `limit`. */
export async function listSuppressions(kv: KV, tenant: string, limit = 1000): Promise<Suppression[]> {
  const out: Suppression[] = [];
  const keys = await kv.keys(`${tenant}.>`);
  for await (const key of keys) {
    if (out.length >= limit) break;
    const e = await kv.get(key);
    if (e === null || e.operation !== "PUT") continue;
    const decoded = decode(Suppression, e.value, "suppression");
    if (decoded.ok) out.push(decoded.value);
  }
  return out;
}
