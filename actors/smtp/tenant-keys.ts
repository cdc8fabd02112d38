import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import {
  activeKey,
  decode,
  DomainEntry,
  domainKeys,
  sealingKey,
  unseal,
  errorMessage,
} from "../../protocol/index.ts";
import { listKeys } from "../../protocol/io/index.ts";
import type { DkimKeys } from "./dkim.ts";

/**
 * Tenants' sender-domain keys for signing: the node watches KV `sluice_domains` and keeps,
 * for every verified domain, its active key opened with SLUICE_SECRET_KEY. A domain that
 * is not (or no longer) verified signs nothing: a signature whose key is not in DNS fails
 * DKIM, which is worse than none. Watching costs no read per message; a rotation or a
 * verification shows on every node within the watch's latency.
 */
export async function watchTenantKeys(kv: KV, keys: DkimKeys, secretKey: string | undefined, logger: Logger): Promise<{ ready: Promise<void>; stop(): void }> {
  const sealing = secretKey === undefined ? undefined : sealingKey(secretKey);
  // The watch marks the end of its replay with delta 0 only when it replays something.
  const empty = (await listKeys(kv, domainKeys.allEntries)).length === 0;
  if (sealing === undefined && !empty) logger.warn("SLUICE_SECRET_KEY is not set: tenants' sender-domain DKIM keys cannot be opened; their mail goes out unsigned");
  const iter = await kv.watch({ key: domainKeys.allEntries });
  let markReady: () => void = () => undefined;
  const ready = empty ? Promise.resolve() : new Promise<void>((r) => (markReady = r));
  void (async () => {
    for await (const e of iter) {
      const [, tenant, ...rest] = e.key.split(".");
      const domain = rest.join(".");
      if (tenant !== undefined && domain !== "") {
        keys.setDomainKey(tenant, domain, e.operation === "PUT" ? signingKeyOf(e.value, sealing, logger) : undefined);
      }
      if (e.delta === 0) markReady();
    }
  })().catch((err: unknown) => logger.error({ err }, "sender-domain key watch ended; keys stay as they were"));
  return { ready, stop: () => iter.stop() };
}

function signingKeyOf(value: Uint8Array, sealing: Buffer | undefined, logger: Logger) {
  const decoded = decode(DomainEntry, value, "domain entry");
  if (!decoded.ok || decoded.value.status !== "verified" || sealing === undefined) return undefined;
  const entry = decoded.value;
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
