import { domainToASCII } from "node:url";

/**
 * The canonical form of a destination domain: lower case, no trailing dot, IDN as
 * punycode (UTS #46 via WHATWG URL, the same mapping browsers and MTAs use).
 * Returns undefined for something that cannot be a domain.
 */
export function normalizeDomain(domain: string): string | undefined {
  const trimmed = domain.trim().replace(/\.$/, "");
  if (trimmed === "" || /[\s@/\\]/.test(trimmed)) return undefined;
  const ascii = domainToASCII(trimmed).toLowerCase();
  if (ascii === "" || ascii.length > 253) return undefined;
  for (const label of ascii.split(".")) {
    if (label.length === 0 || label.length > 63) return undefined;
    if (!/^[a-z0-9-]+$/.test(label) || label.startsWith("-") || label.endsWith("-")) return undefined;
  }
  return ascii;
}

/** The domain part of an address, canonical; undefined when the address has none. */
export function domainOf(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  if (at < 0) return undefined;
  return normalizeDomain(address.slice(at + 1));
}
