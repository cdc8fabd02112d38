import type { KV } from "@nats-io/kv";
import { LRUCache } from "lru-cache";
import { decode, encode } from "../codec.ts";
import { domainOf } from "../domain.ts";
import { DomainEntry, DomainOwner, domainKeys } from "../domains.ts";
import { SluiceError } from "../errors.ts";
import { listKeys } from "./kv-keys.ts";

/** KV `sluice_domains` reads and writes (the NATS half of sender domains). */

export interface StoredDomain {
  entry: DomainEntry;
  revision: number;
}

export async function getDomainEntry(kv: KV, tenant: string, domain: string): Promise<StoredDomain | undefined> {
  const e = await kv.get(domainKeys.entry(tenant, domain));
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(DomainEntry, e.value, "domain entry");
  return decoded.ok ? { entry: decoded.value, revision: e.revision } : undefined;
}

/** The domains of one tenant, or of every tenant (the periodic re-check). */
export async function listDomainEntries(kv: KV, tenant?: string): Promise<DomainEntry[]> {
  const out: DomainEntry[] = [];
  for (const key of await listKeys(kv, tenant === undefined ? domainKeys.allEntries : domainKeys.tenantFilter(tenant))) {
    const e = await kv.get(key);
    if (e === null || e.operation !== "PUT") continue;
    const decoded = decode(DomainEntry, e.value, "domain entry");
    if (decoded.ok) out.push(decoded.value);
  }
  return out.sort((a, b) => a.domain.localeCompare(b.domain) || a.tenant.localeCompare(b.tenant));
}

/** Write an entry; `revision` makes it a compare-and-set (0 = must not exist). Throws on a lost race. */
export async function putDomainEntry(kv: KV, entry: DomainEntry, revision?: number): Promise<number> {
  const key = domainKeys.entry(entry.tenant, entry.domain);
  if (revision === undefined) return kv.put(key, encode(entry));
  if (revision === 0) return kv.create(key, encode(entry));
  return kv.update(key, encode(entry), revision);
}

export async function getDomainOwner(kv: KV, domain: string): Promise<DomainOwner | undefined> {
  const e = await kv.get(domainKeys.owner(domain));
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(DomainOwner, e.value, "domain owner");
  return decoded.ok ? decoded.value : undefined;
}

/**
 * Make `tenant` the owner of `domain`, unless another tenant is. Create-if-absent is
 * atomic in JetStream KV, so two tenants verifying at once cannot both win.
 * Returns the owner after the call.
 */
export async function claimDomain(kv: KV, domain: string, tenant: string, now: number): Promise<string> {
  const current = await getDomainOwner(kv, domain);
  if (current !== undefined) return current.tenant;
  try {
    await kv.create(domainKeys.owner(domain), encode({ tenant, at: now } satisfies DomainOwner));
    return tenant;
  } catch {
    return (await getDomainOwner(kv, domain))?.tenant ?? tenant;
  }
}

/** Give the domain up if `tenant` holds it (removed, or its record disappeared). */
export async function releaseDomain(kv: KV, domain: string, tenant: string): Promise<void> {
  const e = await kv.get(domainKeys.owner(domain));
  if (e === null || e.operation !== "PUT") return;
  const decoded = decode(DomainOwner, e.value, "domain owner");
  if (decoded.ok && decoded.value.tenant !== tenant) return;
  await kv.delete(domainKeys.owner(domain), { previousSeq: e.revision }).catch(() => undefined); // changed meanwhile: the newer owner stays
}

export const domainNotVerified = (domain: string, tenant: string): SluiceError =>
  new SluiceError(
    "validation",
    "domain_not_verified",
    `the sender domain ${domain} is not verified for tenant ${tenant}: add it (POST /v1/domains or sluice domains add ${domain} --tenant ${tenant}), publish its DNS records, then verify it`,
    { field: "from" },
  );

/**
 * Who may send as which domain, for the gateway and the producer SDK: the owner key of the
 * `from` domain must name the caller's tenant. Answers are cached per domain for `ttlMs`,
 * so a send costs no KV read; a verify or remove through this process forgets the domain
 * at once, and elsewhere the change shows within `ttlMs`.
 */
export class VerifiedSenders {
  readonly #owners: LRUCache<string, { owner: string | null }>;

  constructor(
    private readonly kv: () => Promise<KV>,
    ttlMs = 5000,
  ) {
    this.#owners = new LRUCache({ max: 50_000, ttl: ttlMs });
  }

  /** Throws `domain_not_verified` (answered 403) unless `tenant` owns the domain of `fromAddress`. */
  async check(tenant: string, fromAddress: string): Promise<void> {
    const domain = domainOf(fromAddress) ?? fromAddress;
    let known = this.#owners.get(domain);
    if (known === undefined) {
      known = { owner: (await getDomainOwner(await this.kv(), domain))?.tenant ?? null };
      this.#owners.set(domain, known);
    }
    if (known.owner !== tenant) throw domainNotVerified(domain, tenant);
  }

  forget(domain: string): void {
    this.#owners.delete(domain);
  }
}
