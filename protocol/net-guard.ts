import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { validationError } from "./errors.ts";

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

/** True for loopback, private (RFC 1918), link-local, ULA and other non-public addresses. */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "");
  const family = isIP(ip);
  if (family === 4) return PRIVATE.check(ip, "ipv4");
  if (family !== 6) return true; // not an address at all: never trust it
  // IPv4 inside IPv6 (::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d) is judged as the IPv4 address.
  const embedded = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (embedded !== undefined) return PRIVATE.check(embedded, "ipv4");
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (hexMapped) {
    const n = (parseInt(hexMapped[1] as string, 16) << 16) | parseInt(hexMapped[2] as string, 16);
    return PRIVATE.check([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join("."), "ipv4");
  }
  return PRIVATE.check(ip, "ipv6");
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
      throw validationError("unresolvable_url", `the host ${host} does not resolve: ${e instanceof Error ? e.message : String(e)}`, "url");
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
