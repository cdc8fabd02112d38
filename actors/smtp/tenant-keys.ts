import type { Logger } from "pino";
import {
  activeKey,
  sealingKey,
  unseal,
  errorMessage,
  type DomainEntry,
} from "../../protocol/index.ts";
import type { DomainEntrySink } from "../domains/entries-watch.ts";
import type { DkimKeys } from "./dkim.ts";

/**
 * Tenants' sender-domain keys for signing, fed by the watch of KV `sluice_domains`
 * (actors/domains/entries-watch.ts): for every verified domain, its active key opened with
 * SLUICE_SECRET_KEY. A domain that is not (or no longer) verified signs nothing: a signature
 * whose key is not in DNS fails DKIM, which is worse than none.
 */
export function tenantKeysSink(keys: DkimKeys, secretKey: string | undefined, logger: Logger): DomainEntrySink {
  const sealing = secretKey === undefined ? undefined : sealingKey(secretKey);
  let warned = false;
  return (tenant, domain, entry) => {
    if (sealing === undefined && entry !== undefined && !warned) {
      warned = true;
      logger.warn("SLUICE_SECRET_KEY is not set: tenants' sender-domain DKIM keys cannot be opened; their mail goes out unsigned");
    }
    keys.setDomainKey(tenant, domain, entry === undefined ? undefined : signingKeyOf(entry, sealing, logger));
  };
}

function signingKeyOf(entry: DomainEntry, sealing: Buffer | undefined, logger: Logger) {
  if (entry.status !== "verified" || sealing === undefined) return undefined;
  const key = activeKey(entry);
  if (key === undefined) return undefined;
  try {
    const privateKey = unseal(sealing, key.sealedKey, { tenant: entry.tenant, domain: entry.domain, selector: key.selector });
    return { domainName: entry.domain, keySelector: key.selector, privateKey };
  } catch (e) {
    logger.error({ tenant: entry.tenant, domain: entry.domain, err: errorMessage(e) }, "cannot open a sender domain's DKIM key; its mail goes out unsigned");
    return undefined;
  }
}
