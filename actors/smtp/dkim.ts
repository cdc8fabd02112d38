import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { canonicalDomain, check, Tenant, validationError, errorMessage } from "../../protocol/index.ts";

const KeyEntry = z.object({ selector: z.string().regex(/^[A-Za-z0-9._-]+$/), privateKeyFile: z.string().min(1) }).strict();

/**
 * `SLUICE_DKIM_KEYS`: tenant → sender domain → key. A key signs only its tenant's mail: a
 * tenant that writes another tenant's domain in `from` goes out unsigned, never under
 * someone else's d=. It is the operator-level fallback for setups without tenants' sender
 * domains: a verified sender domain's own key (KV sluice_domains, tenant-keys.ts) wins.
 */
const DkimFile = z.record(Tenant, z.record(z.string().min(1), KeyEntry));

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

function fail(message: string): never {
  throw validationError("dkim_keys_invalid", `SLUICE_DKIM_KEYS: ${message}`, "SLUICE_DKIM_KEYS");
}

/**
 * The keys of every tenant, looked up by (tenant, sender domain): the active key of the
 * tenant's verified sender domain first, else the operator's SLUICE_DKIM_KEYS entry.
 */
export class DkimKeys {
  readonly #keys = new Map<string, DkimKey>();
  readonly #domainKeys = new Map<string, DkimKey>();
  readonly #missesLogged = new Set<string>();

  constructor(private readonly logger?: Logger) {}

  get size(): number {
    return this.#keys.size + this.#domainKeys.size;
  }

  set(tenant: string, domain: string, key: DkimKey): void {
    this.#keys.set(`${tenant} ${domain}`, key);
  }

  /** The signing key of a tenant's verified sender domain (replaces its previous one); undefined removes it. */
  setDomainKey(tenant: string, domain: string, key: DkimKey | undefined): void {
    if (key === undefined) this.#domainKeys.delete(`${tenant} ${domain}`);
    else this.#domainKeys.set(`${tenant} ${domain}`, key);
  }

  /** The tenant's key for `domain` (canonical), or undefined: that mail goes out unsigned. */
  get(tenant: string, domain: string): DkimKey | undefined {
    const id = `${tenant} ${domain}`;
    const key = this.#domainKeys.get(id) ?? this.#keys.get(id);
    if (key === undefined && this.#keys.size > 0 && !this.#missesLogged.has(id) && this.#missesLogged.size < 10_000) {
      this.#missesLogged.add(id);
      this.logger?.debug({ tenant, domain }, "no DKIM key of this tenant for this sender domain; sending unsigned");
    }
    return key;
  }
}

/**
 * `SLUICE_DKIM_KEYS`: `{"acme": {"acme.test": {"selector": "s1", "privateKeyFile": "keys/acme.pem"}}}`
 * (tenant → sender domain → key), paths relative to the file.
 */
export function loadDkimKeys(file: string | undefined, logger?: Logger): DkimKeys {
  const keys = new DkimKeys(logger);
  if (file === undefined) return keys;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return fail(`cannot read ${file}: ${errorMessage(e)}`);
  }
  if (isOldShape(raw)) {
    fail(
      `${file} maps domains straight to keys (the old shape), which does not say which tenant may sign with each key; ` +
        `nest each domain under its tenant: {"<tenant>": {"<domain>": {"selector": "s1", "privateKeyFile": "key.pem"}}}`,
    );
  }
  const checked = check(DkimFile, raw, "dkim_keys");
  if (!checked.ok) return fail(checked.error.message);
  for (const [tenant, domains] of Object.entries(checked.value)) {
    for (const [name, entry] of Object.entries(domains)) {
      const domain = canonicalDomain(name);
      if (domain === undefined) fail(`"${name}" (tenant ${tenant}) is not a domain`);
      const path = resolve(dirname(file), entry.privateKeyFile);
      let privateKey: string;
      try {
        privateKey = readFileSync(path, "utf8");
      } catch (e) {
        fail(`key of ${name} (tenant ${tenant}) unreadable at ${path}: ${errorMessage(e)}`);
      }
      keys.set(tenant, domain, { domainName: domain, keySelector: entry.selector, privateKey });
    }
  }
  return keys;
}

// The old file was {"<domain>": {"selector", "privateKeyFile"}}: its values are key entries.
function isOldShape(raw: unknown): boolean {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return false;
  return Object.values(raw).some((v) => typeof v === "object" && v !== null && ("selector" in v || "privateKeyFile" in v));
}
