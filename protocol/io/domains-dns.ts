import { promises as dns } from "node:dns";
import { checkRecord, type Answer, type DnsRecord, type RecordCheck } from "../domains.ts";
import { errorMessage } from "../errors.ts";

/** The lookups Sluice makes: MX routing (actors/routing) and sender-domain verification. */
export interface SluiceResolver {
  resolveMx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  resolve4(domain: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(domain: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolveTxt(domain: string): Promise<string[][]>;
}

/**
 * The resolver of SLUICE_DNS_SERVERS (`127.0.0.1:5353,10.0.0.2`), or the system's when
 * the list is empty. One per process: node:dns keeps its c-ares channel.
 */
export function dnsResolver(servers: readonly string[], o: { timeoutMs?: number; tries?: number } = {}): SluiceResolver {
  if (servers.length === 0) return dns;
  const r = new dns.Resolver({ timeout: o.timeoutMs ?? 3000, tries: o.tries ?? 2 });
  r.setServers([...servers]);
  return r;
}

const MISSING = new Set(["ENOTFOUND", "ENODATA", "NXDOMAIN"]);
const codeOf = (e: unknown): string | undefined => (typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined);

async function answerFor(resolver: SluiceResolver, record: DnsRecord): Promise<Answer> {
  try {
    if (record.type === "MX") return { ok: true, values: (await resolver.resolveMx(record.name)).map((m) => m.exchange) };
    // A TXT record of several character-strings is one text (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
    return { ok: true, values: (await resolver.resolveTxt(record.name)).map((parts) => parts.join("")) };
  } catch (e) {
    const code = codeOf(e);
    return { ok: false, missing: code !== undefined && MISSING.has(code), error: code ?? errorMessage(e) };
  }
}

/** Look every record up (at once) and judge what was found. */
export async function checkRecords(resolver: SluiceResolver, records: readonly DnsRecord[]): Promise<RecordCheck[]> {
  return Promise.all(records.map(async (r) => checkRecord(r, await answerFor(resolver, r))));
}
