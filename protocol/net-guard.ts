import { BlockList, isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Webhook URLs are chosen by API clients, and Sluice POSTs to them from inside the network:
 * without a guard, a client could make Sluice call its metadata service, NATS monitoring or
 * any internal admin page (SSRF). Addresses that are not publicly routable are refused unless
 * SLUICE_WEBHOOK_ALLOW_PRIVATE=1 (tests, single-host setups).
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this" network
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata (169.254.169.254)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 3], // multicast, reserved, broadcast
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 127], // unspecified and loopback
  ["fc00::", 7], // unique local (ULA)
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["100::", 64], // discard
] as const) {
  PRIVATE.addSubnet(net, prefix, "ipv6");
}

/**
 * The IPv4 addresses an IPv6 address carries and that a router or a translator on the way
 * would deliver to. A URL parser rewrites `[::ffff:127.0.0.1]` to `[::ffff:7f00:1]`, so the
 * forms are recognised by their bits, not their spelling.
 */
export function embeddedIPv4(v6: ipaddr.IPv6): string[] {
  const p = v6.parts;
  const v4 = (hi: number, lo: number): string => [hi >>> 8, hi & 255, lo >>> 8, lo & 255].join(".");
  const w = (i: number): number => p[i] ?? 0;
  const zeros = (from: number, to: number): boolean => p.slice(from, to).every((x) => x === 0);
  const out: string[] = [];
  // IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1, deprecated but still routed by some stacks),
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d (RFC 6145).
  if (zeros(0, 6) || (zeros(0, 5) && w(5) === 0xffff) || (zeros(0, 4) && w(4) === 0xffff && w(5) === 0)) out.push(v4(w(6), w(7)));
  // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052).
  if (w(0) === 0x64 && w(1) === 0xff9b && zeros(2, 6)) out.push(v4(w(6), w(7)));
  // 6to4 2002:AABB:CCDD::/48 (RFC 3056).
  if (w(0) === 0x2002) out.push(v4(w(1), w(2)));
  // Teredo 2001:0::/32 (RFC 4380): the server's address in clear, the client's inverted.
  if (w(0) === 0x2001 && w(1) === 0) out.push(v4(w(2), w(3)), v4(w(6) ^ 0xffff, w(7) ^ 0xffff));
  return out;
}

/**
 * True for loopback, private (RFC 1918), link-local, ULA and other non-public addresses,
 * and for an IPv6 address that embeds one (IPv4-mapped, -compatible, NAT64, 6to4, Teredo).
 */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "");
  const family = isIP(ip);
  if (family === 4) return PRIVATE.check(ip, "ipv4");
  if (family !== 6 || !ipaddr.IPv6.isValid(ip)) return true; // not an address at all: never trust it
  const v6 = ipaddr.IPv6.parse(ip);
  // In 64:ff9b::/32 only the well-known /96 (judged by its IPv4 below) reaches the
  // Internet; the rest is reserved or the local-use prefix (RFC 8215), which translates to
  // whatever the operator's network holds.
  const p = v6.parts;
  if (p[0] === 0x64 && p[1] === 0xff9b && !(p[2] === 0 && p[3] === 0 && p[4] === 0 && p[5] === 0)) return true;
  if (embeddedIPv4(v6).some((v4) => PRIVATE.check(v4, "ipv4"))) return true;
  return PRIVATE.check(v6.toNormalizedString(), "ipv6");
}
