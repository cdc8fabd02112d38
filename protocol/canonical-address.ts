import { domainToASCII } from "node:url";
import { normalizeDomain } from "./domain.ts";

/**
 * One canonical form of an email address, so that an address cannot be rewritten past a
 * suppression or into another destination's partition.
 *
 * - Domain: NFKC (fullwidth `ｅｘａｍｐｌｅ` is `example`), lower case, no trailing dot (the
 *   root label is implied in SMTP, RFC 5321 §2.3.5), IDN as its A-label (`bücher.de` and
 *   `xn--bcher-kva.de` are one domain; UTS #46 via WHATWG URL, as browsers and MTAs map it).
 * - Local part, for delivery: as given. RFC 5321 §2.4 makes it case-sensitive and only
 *   the receiving host may interpret it.
 * - Local part, for matching (suppressions): NFKC and lower case. In practice mailbox
 *   providers fold case, and a list that misses `Ann@x` because `ann@x` bounced keeps
 *   hurting the sender; suppressing one mailbox too many is the safe mistake.
 */

// Recipient domains repeat across a blast and the UTS #46 mapping is the dear step.
const MEMO_MAX = 10_000;
const memo = new Map<string, string | undefined>();

/** The canonical domain, or undefined for something that cannot be a domain. */
export function canonicalDomain(raw: string): string | undefined {
  if (memo.has(raw)) return memo.get(raw);
  // NFKC first so compatibility forms of the dot (`．`) are dots before the mapping sees them.
  const mapped = domainToASCII(raw.normalize("NFKC").trim());
  const d = mapped === "" ? undefined : normalizeDomain(mapped);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(raw, d);
  return d;
}

/** `local@domain` split at the last `@`; undefined without one. */
function split(address: string): { local: string; domain: string } | undefined {
  const trimmed = address.trim();
  const at = trimmed.lastIndexOf("@");
  if (at <= 0 || at === trimmed.length - 1) return undefined;
  return { local: trimmed.slice(0, at), domain: trimmed.slice(at + 1) };
}

/** The address to deliver to: local part as given, canonical domain; undefined when the domain is not one. */
export function canonicalAddress(address: string): string | undefined {
  const parts = split(address);
  if (parts === undefined) return undefined;
  const domain = canonicalDomain(parts.domain);
  return domain === undefined ? undefined : `${parts.local}@${domain}`;
}

// ASCII is its own NFKC: skip the normalisation for the common case.
const ASCII = /^[\x00-\x7f]*$/;

/**
 * The form two addresses are compared in (suppressions): canonical domain, local part NFKC
 * and lower case. Something that is not an address is trimmed and lower-cased, so a
 * malformed entry still matches itself.
 */
export function matchingAddress(address: string): string {
  const parts = split(address);
  const domain = parts === undefined ? undefined : canonicalDomain(parts.domain);
  if (parts === undefined || domain === undefined) return address.trim().toLowerCase();
  const local = ASCII.test(parts.local) ? parts.local : parts.local.normalize("NFKC");
  return `${local.toLowerCase()}@${domain}`;
}
