import { createHmac, timingSafeEqual } from "node:crypto";
import { RECIPIENT_ID_PATTERN } from "../ids.ts";
import { TENANT_PATTERN } from "../subjects.ts";
import { deriveKey } from "./verp.ts";

/**
 * The token of a one-click unsubscribe link (RFC 8058): `<payload>.<mac>`, base64url, where
 * the payload names tenant, recipient id and address and the mac (128 bits, a key derived
 * from SLUICE_SECRET_KEY for this purpose only) makes it unforgeable. Whoever holds the
 * token may unsubscribe that one address from that one tenant, nothing else; tokens cannot
 * be enumerated. No expiry: an unsubscribe link in an old mail must still work (RFC 8058 §3
 * and the providers' bulk-sender rules).
 */
export interface UnsubscribeClaim {
  tenant: string;
  recipientId: string;
  address: string;
}

export const unsubscribeKey = (secret: string): Buffer => deriveKey(secret, "unsubscribe");

const macOf = (key: Buffer, payload: string): string => createHmac("sha256", key).update(payload).digest().subarray(0, 16).toString("base64url");

export function unsubscribeToken(key: Buffer, c: UnsubscribeClaim): string {
  const payload = Buffer.from(`${c.tenant}\n${c.recipientId}\n${c.address}`).toString("base64url");
  return `${payload}.${macOf(key, payload)}`;
}

/** The claim of a genuine token; undefined for anything else (malformed, forged, truncated). */
export function verifyUnsubscribeToken(key: Buffer, token: string): UnsubscribeClaim | undefined {
  if (token.length > 1024) return undefined;
  const dot = token.indexOf(".");
  if (dot <= 0) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1));
  const expected = Buffer.from(macOf(key, payload));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const [tenant, recipientId, address, ...rest] = Buffer.from(payload, "base64url").toString("utf8").split("\n");
  if (rest.length > 0 || tenant === undefined || recipientId === undefined || address === undefined) return undefined;
  if (!TENANT_PATTERN.test(tenant) || !RECIPIENT_ID_PATTERN.test(recipientId) || !address.includes("@")) return undefined;
  return { tenant, recipientId, address };
}
