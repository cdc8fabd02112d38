import { promises as dns } from "node:dns";
import { permanentError, temporaryError } from "../../protocol/index.ts";

export interface MxHost {
  host: string;
  /** Where to connect when it is not `host` itself: the address looked up with SLUICE_DNS_SERVERS (`host` stays the TLS name). */
  address?: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
}

/** The DNS functions routing uses; a test passes its own. */
export interface DnsLike {
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  resolve4(domain: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(domain: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
}

export const systemDns: DnsLike = {
  resolveMx: (d) => dns.resolveMx(d),
  resolve4: (d, o) => dns.resolve4(d, o),
  resolve6: (d, o) => dns.resolve6(d, o),
};

const NOT_FOUND = new Set(["ENOTFOUND", "NXDOMAIN"]);
const NO_DATA = new Set(["ENODATA", "ENOTFOUND_NODATA"]);

const codeOf = (e: unknown): string | undefined => (typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined);

/**
 * MX hosts of a domain by preference (RFC 5321 §5.1): MX records, else the domain's own
 * A/AAAA ("implicit MX"). A null MX (RFC 7505: one record, exchange ".") or a domain that
 * does not exist is permanent; a resolver failure (SERVFAIL, timeout) is temporary.
 */
export async function lookupMx(domain: string, resolver: DnsLike = systemDns): Promise<string[]> {
  let records: { exchange: string; priority: number }[] = [];
  try {
    records = await resolver.resolveMx(domain);
  } catch (e) {
    const code = codeOf(e);
    if (code !== undefined && NOT_FOUND.has(code)) throw permanentError("domain_not_found", `${domain} does not exist (NXDOMAIN)`, e);
    if (code === undefined || !NO_DATA.has(code)) throw temporaryError("dns_failed", `MX lookup of ${domain} failed: ${code ?? String(e)}`, e);
  }
  const usable = records.filter((r) => r.exchange !== "" && r.exchange !== ".");
  if (records.length > 0 && usable.length === 0) throw permanentError("null_mx", `${domain} accepts no mail (null MX, RFC 7505)`);
  if (usable.length > 0) return usable.sort((a, b) => a.priority - b.priority).map((r) => r.exchange.replace(/\.$/, "").toLowerCase());
  // No MX at all: the domain itself, if it has an address.
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(domain, { ttl: true }), resolver.resolve6(domain, { ttl: true })]);
  const has = (r: PromiseSettledResult<{ address: string }[]>) => r.status === "fulfilled" && r.value.length > 0;
  if (has(v4) || has(v6)) return [domain];
  const codes = [v4, v6].map((r) => (r.status === "rejected" ? codeOf(r.reason) : "ENODATA"));
  if (codes.every((c) => c !== undefined && (NOT_FOUND.has(c) || NO_DATA.has(c)))) {
    throw permanentError("domain_not_found", `${domain} has no MX and no address record`);
  }
  throw temporaryError("dns_failed", `address lookup of ${domain} failed: ${codes.join(",")}`);
}

/**
 * The first IPv4 (else IPv6) address of an MX host through `resolver`, or undefined (then
 * the connection looks the name up itself). Used when SLUICE_DNS_SERVERS is set, so that
 * the whole route — MX records and their hosts' addresses — comes from the same servers.
 */
export async function addressOf(host: string, resolver: DnsLike): Promise<string | undefined> {
  for (const lookup of [() => resolver.resolve4(host, { ttl: true }), () => resolver.resolve6(host, { ttl: true })]) {
    try {
      const first = (await lookup())[0];
      if (first !== undefined) return first.address;
    } catch {
      // try the other family, then leave it to the connection
    }
  }
  return undefined;
}
