import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { KV_BUCKETS, errorMessage, type Config } from "../../protocol/index.ts";
import { dnsResolver, listDomains, verifyDomain, type DomainServiceDeps } from "../../protocol/io/index.ts";

/**
 * The periodic re-check of every sender domain (SLUICE_DOMAIN_RECHECK): a verified domain
 * whose DKIM record disappeared turns `failed` (and gives its ownership up, so its mail is
 * refused with 403 until it is verified again); a pending one whose records appeared turns
 * `verified` without the tenant asking. Every node with the `events` role runs it; the
 * writes are compare-and-set, so two nodes checking at once store one outcome.
 */
export async function startDomainRechecker(nc: NatsConnection, config: Config, logger: Logger): Promise<{ close(): Promise<void> }> {
  const kv = await new Kvm(nc).open(KV_BUCKETS.domains);
  const d = config.domains;
  const deps: DomainServiceDeps = { kv, dns: dnsResolver(d.dnsServers), settings: { secretKey: d.secretKey, spf: d.spf, inboundHost: d.inboundHost, rotationGraceMs: d.rotationGraceMs } };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let closed = false;

  const round = async (): Promise<void> => {
    for (const entry of await listDomains(kv)) {
      if (closed) return;
      try {
        const outcome = await verifyDomain(deps, entry.tenant, entry.domain);
        if (outcome.entry.status !== outcome.previous) {
          const log = outcome.entry.status === "failed" ? logger.warn.bind(logger) : logger.info.bind(logger);
          log({ tenant: entry.tenant, domain: entry.domain, from: outcome.previous, to: outcome.entry.status, reason: outcome.entry.reason }, "sender domain re-checked: status changed");
        }
      } catch (e) {
        logger.warn({ tenant: entry.tenant, domain: entry.domain, err: errorMessage(e) }, "sender domain re-check failed; trying again next round");
      }
    }
  };
  const schedule = (): void => {
    if (closed) return;
    timer = setTimeout(() => {
      running = round()
        .catch((e: unknown) => logger.warn({ err: errorMessage(e) }, "sender domain re-check round failed"))
        .finally(schedule);
    }, d.recheckMs);
    timer.unref();
  };
  schedule();
  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await running;
    },
  };
}
