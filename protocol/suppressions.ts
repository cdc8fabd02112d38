import { z } from "zod";
import { matchingAddress } from "./canonical-address.ts";

/**
 * The suppression list, one KV entry per (tenant, address). Addresses are compared in
 * their matching form (canonical-address.ts): domain NFKC, lower case, no trailing dot,
 * IDN as A-label; local part NFKC and lower case. So `s-a@example.com.`,
 * `s-a@ｅｘａｍｐｌｅ.com` and `S-A@example.com` are one entry, as are `ann@bücher.de` and
 * `ann@xn--bcher-kva.de`; the entry's `address` is that form.
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

const keyOf = (tenant: string, form: string): string => `${tenant}.${Buffer.from(form).toString("base64url")}`;

/** KV keys allow [-/_=.a-zA-Z0-9]: the address's matching form is base64url-encoded behind the tenant. */
export const suppressionKey = (tenant: string, address: string): string => keyOf(tenant, matchingAddress(address));

/**
 * The keys an address may have been stored under: its matching form, and (when different)
 * the plain lower-cased form entries were keyed by before the canonical form existed, so
 * an IDN suppression written then is still honoured.
 */
export function suppressionKeys(tenant: string, address: string): [string, ...string[]] {
  const form = matchingAddress(address);
  const legacy = address.trim().toLowerCase();
  return legacy === form ? [keyOf(tenant, form)] : [keyOf(tenant, form), keyOf(tenant, legacy)];
}
