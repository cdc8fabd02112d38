import { returnPathDomainOf } from "../../protocol/index.ts";
import type { DomainEntrySink } from "./entries-watch.ts";

/**
 * Which sender domains have their own return path (`bounces.<domain>`, protocol/domains.ts
 * returnPathDomainOf), kept from the watch of KV `sluice_domains`. The sender uses it to pick
 * the envelope sender's domain per message; the inbound server to accept mail for those
 * bounce domains (and no others: it relays nothing).
 */
export class ReturnPathDomains {
  /** `<tenant> <domain>` → its bounce domain. */
  #byTenantDomain = new Map<string, string>();
  /** Bounce domain → how many verified (tenant, domain) pairs publish it. */
  #accepted = new Map<string, number>();

  readonly sink: DomainEntrySink = (tenant, domain, entry) => {
    const key = `${tenant} ${domain}`;
    const before = this.#byTenantDomain.get(key);
    const after = entry === undefined ? undefined : returnPathDomainOf(entry);
    if (before === after) return;
    if (before !== undefined) {
      this.#byTenantDomain.delete(key);
      const n = (this.#accepted.get(before) ?? 1) - 1;
      if (n <= 0) this.#accepted.delete(before);
      else this.#accepted.set(before, n);
    }
    if (after !== undefined) {
      this.#byTenantDomain.set(key, after);
      this.#accepted.set(after, (this.#accepted.get(after) ?? 0) + 1);
    }
  };

  /** The bounce domain of this tenant's sender domain, if it has one of its own. */
  of(tenant: string, senderDomain: string): string | undefined {
    return this.#byTenantDomain.get(`${tenant} ${senderDomain.toLowerCase()}`);
  }

  /** Whether mail to this bounce domain is ours to take. */
  accepts(bounceDomain: string): boolean {
    return this.#accepted.has(bounceDomain.toLowerCase());
  }
}
