import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { decode, DomainEntry, domainKeys } from "../../protocol/index.ts";
import { listKeys } from "../../protocol/io/index.ts";

/** Told of every tenant's sender domain as it is now: the entry, or undefined once it is gone (or unreadable). */
export type DomainEntrySink = (tenant: string, domain: string, entry: DomainEntry | undefined) => void;

/**
 * One watch of KV `sluice_domains` for the parts of a process that follow tenants' sender
 * domains (DKIM keys, return paths, the inbound server's bounce domains): no read per message,
 * and a verification, rotation or failure shows within the watch's latency. `ready` resolves
 * once the entries there at the start have been replayed.
 */
export async function watchDomainEntries(kv: KV, sinks: DomainEntrySink[], logger: Logger): Promise<{ ready: Promise<void>; empty: boolean; stop(): void }> {
  // The watch marks the end of its replay with delta 0 only when it replays something.
  const empty = (await listKeys(kv, domainKeys.allEntries)).length === 0;
  const iter = await kv.watch({ key: domainKeys.allEntries });
  let markReady: () => void = () => undefined;
  const ready = empty ? Promise.resolve() : new Promise<void>((r) => (markReady = r));
  void (async () => {
    for await (const e of iter) {
      const [, tenant, ...rest] = e.key.split(".");
      const domain = rest.join(".");
      if (tenant !== undefined && domain !== "") {
        const decoded = e.operation === "PUT" ? decode(DomainEntry, e.value, "domain entry") : undefined;
        if (decoded !== undefined && !decoded.ok) logger.warn({ tenant, domain, err: decoded.error.message }, "unreadable sender-domain entry; treated as absent");
        const entry = decoded?.ok ? decoded.value : undefined;
        for (const sink of sinks) sink(tenant, domain, entry);
      }
      if (e.delta === 0) markReady();
    }
  })().catch((err: unknown) => logger.error({ err }, "sender-domain watch ended; what it fed stays as it was"));
  return { ready, empty, stop: () => iter.stop() };
}
