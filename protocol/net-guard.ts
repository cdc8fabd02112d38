import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { validationError, errorMessage } from "./errors.ts";

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

const lookupAll = (host: string): Promise<LookupAddress[]> =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * Validate a webhook URL: http(s), and (unless private addresses are allowed) a host whose
 * every address is public. Throws a validation error on field `url`.
 */
export async function checkWebhookUrl(raw: string, opts: { allowPrivate: boolean }): Promise<URL> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw validationError("invalid_url", `"${raw}" is not a URL`, "url");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw validationError("invalid_url", "must be an http:// or https:// URL", "url");
  if (url.username !== "" || url.password !== "") throw validationError("invalid_url", "must not carry credentials; the request is signed instead", "url");
  if (opts.allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = (await lookupAll(host)).map((a) => a.address);
    } catch (e) {
      throw validationError("unresolvable_url", `the host ${host} does not resolve: ${errorMessage(e)}`, "url");
    }
  }
  const bad = addresses.find(isPrivateAddress);
  if (bad !== undefined) {
    throw validationError("private_url", `${host} resolves to ${bad}, a private, loopback or link-local address; webhooks go to public addresses only (SLUICE_WEBHOOK_ALLOW_PRIVATE=1 to allow)`, "url");
  }
  return url;
}

/**
 * A `lookup` for sockets that refuses private addresses at connect time, so a host that
 * passed the check at registration cannot later be re-pointed inside (DNS rebinding).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, "", 0);
    const list = addresses as unknown as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad !== undefined) {
      const e = Object.assign(new Error(`${hostname} resolves to the private address ${bad.address}; refused`), { code: "EPRIVATEADDRESS" });
      return callback(e, "", 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0];
    if (first === undefined) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
    callback(null, first.address, first.family);
  });
};
