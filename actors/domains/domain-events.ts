import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { decode, DomainEntry, domainEventOf, domainKeys, KV_BUCKETS, type Config, type DomainStatus } from "../../protocol/index.ts";
import { listDomains } from "../../protocol/io/index.ts";
import { startStateEvents } from "../webhooks/state-events.ts";

/**
 * `domain.verified` / `domain.failed` webhooks. Whoever changes a domain's status — the
 * verify route, `sluice domains verify`, the periodic re-check — writes KV
 * `sluice_domains`; a watch of its entries (../webhooks/state-events.ts) tells the
 * subscribed endpoints of each change of status.
 */
export function startDomainEvents(nc: NatsConnection, config: Config, logger: Logger): Promise<{ close(): Promise<void> }> {
  return startStateEvents<DomainEntry, DomainStatus>(nc, logger, {
    bucket: KV_BUCKETS.domains,
    key: domainKeys.allEntries,
    current: async (kv) => new Map((await listDomains(kv)).map((e) => [domainKeys.entry(e.tenant, e.domain), e.status])),
    decode: (value) => {
      const d = decode(DomainEntry, value, "domain entry");
      return d.ok ? d.value : undefined;
    },
    statusOf: (entry) => entry.status,
    eventOf: (_key, previous, entry) => domainEventOf(previous, entry, config.domains),
  });
}
