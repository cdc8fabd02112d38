import { createHmac, timingSafeEqual } from "node:crypto";
import { matchingAddress } from "../canonical-address.ts";

/**
 * The envelope sender of one message (VERP): `b-<recipient id>-<tenant>-<mac>@<bounce domain>`.
 * A bounce comes back to this address, so it names the message and the tenant without
 * trusting anything the bounce says. The mac is two halves of 8 base32 characters (40 bits
 * each) under a key derived from SLUICE_SECRET_KEY:
 *  - `idMac` over (tenant, recipient id): the bounce is ours and about this message;
 *  - `addressMac` over (tenant, recipient id, recipient address): checked against the
 *    address the bounce reports (Final-Recipient, Original-Recipient, X-Failed-Recipients...),
 *    so only a report naming the address we really sent to can suppress it. The address is
 *    not in the envelope (it would double the local part and show the list to relays).
 * Everything is lower case, digits and `-`: MTAs that fold the local part's case keep it.
 *
 * The local part is 54 characters plus the tenant's length at most, and RFC 5321 allows 64.
 * A tenant name too long for that is left out (`b-<recipient id>-<mac>`, 52 at most): the
 * receiver of the bounce finds the tenant by the recipient id (its status record) and the
 * macs, which still cover the tenant, prove it.
 */
export interface VerpKey {
  readonly key: Buffer;
}

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const LOCAL = /^b-([0-9a-z]{26}-\d{1,7})-([a-z0-9][a-z0-9_-]{0,62})-([0-9a-z]{16})$/;
/** Without the tenant: four `-`-separated tokens where the full form has at least five. */
const LOCAL_NO_TENANT = /^b-([0-9a-z]{26}-\d{1,7})-([0-9a-z]{16})$/;
/** RFC 5321's limit on a local part. */
const MAX_LOCAL = 64;

/** A purpose-bound key from SLUICE_SECRET_KEY, so a VERP mac is never a valid unsubscribe token mac and back. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return createHmac("sha256", secret).update(`sluice:${purpose}`).digest();
}

export const verpKey = (secret: string): VerpKey => ({ key: deriveKey(secret, "verp") });

function base32(bytes: Buffer, chars: number): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= 0xff;
    if (out.length >= chars) break;
  }
  return out;
}

const mac = (k: VerpKey, ...parts: string[]): string => base32(createHmac("sha256", k.key).update(parts.join("\n")).digest(), 8);

export function verpAddress(k: VerpKey, o: { tenant: string; recipientId: string; rcptTo: string; domain: string }): string {
  const idMac = mac(k, "id", o.tenant, o.recipientId);
  const addressMac = mac(k, "address", o.tenant, o.recipientId, matchingAddress(o.rcptTo));
  const full = `b-${o.recipientId}-${o.tenant}-${idMac}${addressMac}`;
  const local = full.length <= MAX_LOCAL ? full : `b-${o.recipientId}-${idMac}${addressMac}`;
  return `${local}@${o.domain}`;
}

export interface VerpParts {
  recipientId: string;
  /** Absent when the tenant's name was too long for the local part: look it up by recipient id. */
  tenant: string | undefined;
  domain: string;
  /** The two macs as found: checked by verifyVerp, never trusted before. */
  idMac: string;
  addressMac: string;
}

/** The parts of a VERP address, unverified; undefined when it is not one. */
export function parseVerp(address: string): VerpParts | undefined {
  const at = address.lastIndexOf("@");
  if (at <= 0) return undefined;
  const local = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  const m = LOCAL.exec(local);
  if (m !== null) {
    const [, recipientId, tenant, macs] = m as unknown as [string, string, string, string];
    return { recipientId, tenant, domain, idMac: macs.slice(0, 8), addressMac: macs.slice(8) };
  }
  const short = LOCAL_NO_TENANT.exec(local);
  if (short === null) return undefined;
  const [, recipientId, macs] = short as unknown as [string, string, string];
  return { recipientId, tenant: undefined, domain, idMac: macs.slice(0, 8), addressMac: macs.slice(8) };
}

const same = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** The tenant a recipient id belongs to, as the caller found it (undefined: unknown). */
export type TenantOf = (recipientId: string) => string | undefined;

export type VerpCheck =
  | { ok: false }
  /** `address`: the first candidate the address mac proves, if any (only that one may be suppressed). */
  | { ok: true; tenant: string; recipientId: string; address: string | undefined };

/**
 * Verify a VERP address against the key; `candidates` are the addresses the report names
 * for the failed recipient. A wrong id mac (forged, another key, another tenant's id) is
 * `ok: false`: nothing may be done with the report. `tenantOf` names the tenant of an address
 * that leaves it out (looked up by the caller from the recipient id); the mac proves it.
 */
export function verifyVerp(k: VerpKey, address: string, candidates: readonly string[], tenantOf: TenantOf = () => undefined): VerpCheck {
  const p = parseVerp(address);
  const tenant = p === undefined ? undefined : (p.tenant ?? tenantOf(p.recipientId));
  if (p === undefined || tenant === undefined || !same(p.idMac, mac(k, "id", tenant, p.recipientId))) return { ok: false };
  const proven = candidates.find((c) => same(p.addressMac, mac(k, "address", tenant, p.recipientId, matchingAddress(c))));
  return { ok: true, tenant, recipientId: p.recipientId, address: proven };
}
