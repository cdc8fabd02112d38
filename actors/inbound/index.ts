import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS, verpKey, type Config } from "../../protocol/index.ts";
import { watchDomainEntries } from "../domains/entries-watch.ts";
import { ReturnPathDomains } from "../domains/return-paths.ts";
import { startInboundConsumer } from "./consumer.ts";
import { startInboundServer } from "./server.ts";

export { INBOUND_HEADERS } from "./server.ts";

export interface InboundRole {
  /** The port the SMTP server listens on (the configured one, or the one picked for port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * The `inbound` node role: the SMTP server that stores bounces and feedback reports on
 * MAIL_INBOUND, and the consumer that parses them and applies their effects. Needs
 * SLUICE_BOUNCE_DOMAIN and SLUICE_SECRET_KEY; undefined (the role idles) without them.
 */
export async function startInbound(nc: NatsConnection, config: Config, logger: Logger): Promise<InboundRole | undefined> {
  const log = logger.child({ part: "inbound" });
  if (config.bounceDomain === undefined || config.secretKey === undefined) {
    log.info("inbound role idle: SLUICE_BOUNCE_DOMAIN is not set");
    return undefined;
  }
  const consumer = await startInboundConsumer(nc, verpKey(config.secretKey), log);
  // Tenants' own bounce domains (bounces.<domain>, once its MX and SPF are published) are ours too.
  const returnPaths = new ReturnPathDomains();
  const watch = await watchDomainEntries(await new Kvm(nc).open(KV_BUCKETS.domains), [returnPaths.sink], log);
  try {
    await watch.ready;
    const server = await startInboundServer({
      js: jetstream(nc),
      host: config.inbound.host,
      port: config.inbound.port,
      bounceDomains: [config.bounceDomain],
      alsoAccepts: (domain) => returnPaths.accepts(domain),
      // The raw mail is one NATS message: never accept what the server would refuse to store.
      maxMessageBytes: Math.min(config.inbound.maxMessageBytes, (nc.info?.max_payload ?? 1024 * 1024) - 4096),
      messagesPerMinute: config.inbound.messagesPerMinute,
      logger: log,
    });
    return {
      port: server.port,
      close: async () => {
        await server.close();
        watch.stop();
        await consumer.close();
      },
    };
  } catch (e) {
    watch.stop();
    await consumer.close();
    throw e;
  }
}
