import type { KV } from "@nats-io/kv";
import { generateDkimKey, importDkimKey, newSelector, seal, sealingKey, type RsaKeyPair } from "../domain-keys.ts";
import { afterCheck, domainKeys, domainRecords, type CreateDomainRequest, type DomainEntry, type RecordSettings } from "../domains.ts";
import { checkRecords, type SluiceResolver } from "./domains-dns.ts";
import { claimDomain, getDomainEntry, getDomainOwner, listDomainEntries, putDomainEntry, releaseDomain } from "./domains-store.ts";
import { SluiceError, internalError } from "../errors.ts";

/**
 * The sender-domain operations, shared by the gateway's /v1/domains routes and
 * `sluice domains`: add, verify (look the records up now), rotate the DKIM key, remove.
 */

export interface DomainSettings extends RecordSettings {
  /** SLUICE_SECRET_KEY; undefined = domains cannot hold keys (the operations answer an error). */
  secretKey: string | undefined;
  /** How long a rotated-out key stays published and usable. */
  rotationGraceMs: number;
}

export interface DomainServiceDeps {
  kv: KV;
  dns: SluiceResolver;
  settings: DomainSettings;
  now?: () => number;
}

const conflict = (code: string, message: string): SluiceError => new SluiceError("validation", code, message, { field: "domain" });
export const domainNotFound = (domain: string): SluiceError => new SluiceError("validation", "sender_domain_not_found", `no sender domain ${domain} for this tenant`, { field: "domain" });

/** The HTTP status of the domain errors that are not a 400. */
export const DOMAIN_ERROR_STATUS: Record<string, number> = { domain_taken: 409, domain_exists: 409, sender_domain_not_found: 404, domain_not_verified: 403 };

const sealer = new Map<string, Buffer>();
function sealingKeyOf(s: DomainSettings): Buffer {
  if (s.secretKey === undefined) throw internalError("secret_key_missing", "SLUICE_SECRET_KEY is not set: sender domains cannot store their DKIM keys");
  let k = sealer.get(s.secretKey);
  if (k === undefined) sealer.set(s.secretKey, (k = sealingKey(s.secretKey)));
  return k;
}

const takenBy = (domain: string): SluiceError =>
  conflict("domain_taken", `${domain} is verified by another tenant; a domain is verified by one tenant at a time (that tenant must remove it first)`);

export async function addDomain(d: DomainServiceDeps, tenant: string, req: CreateDomainRequest): Promise<DomainEntry> {
  const now = (d.now ?? Date.now)();
  const owner = await getDomainOwner(d.kv, req.domain);
  if (owner !== undefined && owner.tenant !== tenant) throw takenBy(req.domain);
  if ((await getDomainEntry(d.kv, tenant, req.domain)) !== undefined) throw conflict("domain_exists", `${req.domain} is already added; GET /v1/domains/${req.domain} shows its records`);
  const pair: RsaKeyPair = req.dkim === undefined ? await generateDkimKey() : importDkimKey(req.dkim.privateKey);
  const selector = req.dkim?.selector ?? newSelector(now);
  const entry: DomainEntry = {
    v: 1,
    tenant,
    domain: req.domain,
    status: "pending",
    keys: [
      {
        selector,
        publicKey: pair.publicKey,
        sealedKey: seal(sealingKeyOf(d.settings), pair.privateKey, { tenant, domain: req.domain, selector }),
        state: "active",
        uploaded: req.dkim !== undefined,
        createdAt: now,
      },
    ],
    createdAt: now,
    updatedAt: now,
  };
  try {
    await putDomainEntry(d.kv, entry, 0);
  } catch (e) {
    // Added by a concurrent request (create refuses an existing key), or the store failed.
    if ((await getDomainEntry(d.kv, tenant, req.domain)) !== undefined) throw conflict("domain_exists", `${req.domain} is already added`);
    throw e;
  }
  return entry;
}

export async function getDomain(kv: KV, tenant: string, domain: string): Promise<DomainEntry> {
  const found = await getDomainEntry(kv, tenant, domain);
  if (found === undefined) throw domainNotFound(domain);
  return found.entry;
}

export const listDomains = (kv: KV, tenant?: string): Promise<DomainEntry[]> => listDomainEntries(kv, tenant);

/** What a check changed, for logs and events. */
export interface CheckOutcome {
  entry: DomainEntry;
  previous: DomainEntry["status"];
  /** The domain is verified by another tenant: DNS says yes, ownership says no. */
  taken: boolean;
}

/**
 * Look the records up now and store the outcome (compare-and-set: a concurrent change
 * wins and this check is retried once). Verified claims the domain for the tenant;
 * failed gives it up.
 */
export async function verifyDomain(d: DomainServiceDeps, tenant: string, domain: string): Promise<CheckOutcome> {
  for (let attempt = 0; ; attempt++) {
    const stored = await getDomainEntry(d.kv, tenant, domain);
    if (stored === undefined) throw domainNotFound(domain);
    const now = (d.now ?? Date.now)();
    const checks = await checkRecords(d.dns, domainRecords(stored.entry, d.settings));
    let next = afterCheck(stored.entry, checks, now, d.settings.rotationGraceMs);
    let taken = false;
    if (next.status === "verified" && (await claimDomain(d.kv, domain, tenant, now)) !== tenant) {
      taken = true;
      next = { ...next, status: stored.entry.status === "verified" ? "failed" : "pending", reason: `${domain} is verified by another tenant` };
      delete next.verifiedAt;
    }
    try {
      await putDomainEntry(d.kv, next, stored.revision);
    } catch (e) {
      if (attempt < 4) continue; // changed meanwhile (another check, a rotation): check again
      throw e;
    }
    if (next.status !== "verified") await releaseDomain(d.kv, domain, tenant);
    return { entry: next, previous: stored.entry.status, taken };
  }
}

/** A new key under a new selector, published beside the active one; it signs once DNS shows it. */
export async function rotateDkim(d: DomainServiceDeps, tenant: string, domain: string): Promise<DomainEntry> {
  if ((await getDomainEntry(d.kv, tenant, domain)) === undefined) throw domainNotFound(domain);
  const now = (d.now ?? Date.now)();
  // The key first: generating it takes long enough for a re-check to rewrite the entry meanwhile.
  const pair = await generateDkimKey();
  const selector = newSelector(now);
  const key = { selector, publicKey: pair.publicKey, sealedKey: seal(sealingKeyOf(d.settings), pair.privateKey, { tenant, domain, selector }), state: "next" as const, uploaded: false, createdAt: now };
  for (let attempt = 0; ; attempt++) {
    const stored = await getDomainEntry(d.kv, tenant, domain);
    if (stored === undefined) throw domainNotFound(domain);
    const keys = [...stored.entry.keys.filter((k) => k.state !== "next"), key]; // a second rotation replaces an unpublished one
    const next: DomainEntry = { ...stored.entry, keys, updatedAt: now };
    try {
      await putDomainEntry(d.kv, next, stored.revision);
      return next;
    } catch (e) {
      if (attempt >= 4) throw e; // changed meanwhile (a re-check): read it again
    }
  }
}

export async function removeDomain(kv: KV, tenant: string, domain: string): Promise<void> {
  const stored = await getDomainEntry(kv, tenant, domain);
  if (stored === undefined) throw domainNotFound(domain);
  await releaseDomain(kv, domain, tenant);
  await kv.delete(domainKeys.entry(tenant, domain));
}
