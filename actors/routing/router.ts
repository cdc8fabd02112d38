import { routeFor, isSluiceError, SIMULATOR_DOMAIN, type Route, type SluiceError } from "../../protocol/index.ts";
import { providerOfMx } from "../policies/index.ts";
import type { PolicyBook } from "../policies/index.ts";
import { addressOf, lookupMx, systemDns, type DnsLike, type MxHost } from "./mx.ts";

/** Where a domain's mail goes, and which budget it spends. */
export interface Target {
  /** The budget key: the domain, or an MX group such as `mx:google`. */
  key: string;
  hosts: MxHost[];
}

export type Resolution = { ok: true; target: Target } | { ok: false; error: SluiceError };

interface CacheEntry {
  value: Promise<Resolution>;
  expiresAt: number;
}

export interface RouterOptions {
  routes: readonly Route[];
  book: PolicyBook;
  dns?: DnsLike;
  /** Look the MX hosts' addresses up with `dns` too (SLUICE_DNS_SERVERS set). */
  resolveAddresses?: boolean;
  /**
   * node:dns does not expose the TTL of MX records, so answers are kept this long
   * (a typical MX TTL); a failed lookup is kept shorter so a fixed zone is seen soon.
   */
  positiveTtlMs?: number;
  negativeTtlMs?: number;
  now?: () => number;
  maxEntries?: number;
}

/**
 * Domain → destination. `SLUICE_ROUTES` wins (each routed domain keeps its own budget);
 * otherwise MX lookup, cached, with concurrent lookups of one domain shared.
 */
export class Router {
  #cache = new Map<string, CacheEntry>();
  constructor(private readonly o: RouterOptions) {}

  resolve(domain: string): Promise<Resolution> {
    const now = (this.o.now ?? Date.now)();
    const hit = this.#cache.get(domain);
    if (hit && hit.expiresAt > now) return hit.value;
    const value = this.#lookup(domain);
    const entry: CacheEntry = { value, expiresAt: now + (this.o.positiveTtlMs ?? 300_000) };
    this.#cache.set(domain, entry);
    void value.then((r) => {
      if (!r.ok) entry.expiresAt = now + (r.error.kind === "permanent" ? (this.o.negativeTtlMs ?? 60_000) : 5_000);
    });
    if (this.#cache.size > (this.o.maxEntries ?? 100_000)) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    return value;
  }

  async #lookup(domain: string): Promise<Resolution> {
    // The mailbox simulator answers here, whatever SLUICE_ROUTES says (a catch-all route
    // must not send it to a real server); the node hands its sends to actors/simulator.
    if (domain === SIMULATOR_DOMAIN) return { ok: true, target: { key: SIMULATOR_DOMAIN, hosts: [{ host: SIMULATOR_DOMAIN, port: 0, secure: false }] } };
    const route = routeFor(this.o.routes, domain);
    if (route) {
      const host: MxHost = { host: route.host, port: route.port, secure: route.secure };
      if (route.auth) host.auth = route.auth;
      return { ok: true, target: { key: domain, hosts: [host] } };
    }
    try {
      const dns = this.o.dns ?? systemDns;
      const names = await lookupMx(domain, dns);
      const hosts = await Promise.all(
        names.map(async (host): Promise<MxHost> => {
          const address = this.o.resolveAddresses === true ? await addressOf(host, dns) : undefined;
          return address === undefined ? { host, port: 25, secure: false } : { host, address, port: 25, secure: false };
        }),
      );
      const group = names[0] === undefined ? undefined : providerOfMx(names[0]);
      const grouped = this.o.book.groupByMx && group !== undefined && !this.o.book.isExplicit(domain);
      return { ok: true, target: { key: grouped ? group : domain, hosts } };
    } catch (e) {
      if (isSluiceError(e)) return { ok: false, error: e };
      throw e;
    }
  }
}
