import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { ensureLaneConsumers, isEventType, KV_BUCKETS, STREAMS, WEBHOOK_FANOUT_CONSUMER, type Config, type WebhookEndpoint } from "../../protocol/index.ts";
import { consumeEvents } from "../event-consumer.ts";
import { KeyedRunner } from "../keyed-runner.ts";
import { fanOut } from "./fanout.ts";
import { EndpointLanes, type LaneSettings } from "./lanes.ts";
import { webhookAgent } from "./post.ts";
import { EndpointRegistry } from "./registry.ts";

/** 5 s, 30 s, 2 min, 10 min, 30 min, then hourly until SLUICE_WEBHOOK_MAX_AGE (24 h). */
export const DEFAULT_WEBHOOK_BACKOFF_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000] as const;

const FANOUT_IN_FLIGHT = 128;

export interface WebhookActorOptions {
  backoffMs?: readonly number[];
  timeoutMs?: number;
}

export interface WebhookActor {
  close(): Promise<void>;
}

/**
 * The webhook actor: MAIL_EVENTS → per-endpoint lanes on MAIL_WEBHOOKS → signed POSTs.
 * Any number of processes may run it: the fan-out consumer and the lane consumers are
 * shared durables, and max_ack_pending 1 per lane keeps order across processes too.
 */
export async function startWebhookActor(nc: NatsConnection, config: Config, logger: Logger, options: WebhookActorOptions = {}): Promise<WebhookActor> {
  const log = logger.child({ part: "webhooks" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const kv = await new Kvm(nc).open(KV_BUCKETS.webhooks);
  const settings: LaneSettings = {
    maxAgeMs: config.webhooks.maxAgeMs,
    timeoutMs: options.timeoutMs ?? 10_000,
    backoffMs: options.backoffMs ?? DEFAULT_WEBHOOK_BACKOFF_MS,
  };
  const agent = webhookAgent({ allowPrivate: config.webhookAllowPrivate, timeoutMs: settings.timeoutMs });

  const lanes = new Map<string, EndpointLanes>();
  // Starts and stops of one endpoint run in order, whatever order the watch reports them in.
  let changes: Promise<void> = Promise.resolve();
  const change = (what: () => Promise<void>) => {
    changes = changes.then(what).catch((err: unknown) => log.error({ err }, "webhook endpoint lanes could not be changed"));
  };
  const registry: EndpointRegistry = new EndpointRegistry(
    kv,
    {
      added: (endpoint: WebhookEndpoint) =>
        change(async () => {
          if (lanes.has(endpoint.id)) return;
          await ensureLaneConsumers(jsm, endpoint); // the registering gateway may have died half-way
          const worker = new EndpointLanes(endpoint, { js, registry, agent, settings, log });
          lanes.set(endpoint.id, worker);
          await worker.start();
          log.info({ endpointId: endpoint.id, tenant: endpoint.tenant, lanes: endpoint.lanes }, "webhook endpoint active");
        }),
      removed: (id: string) =>
        change(async () => {
          const worker = lanes.get(id);
          lanes.delete(id);
          await worker?.stop();
          log.info({ endpointId: id }, "webhook endpoint removed");
        }),
    },
    log,
  );
  await registry.start();
  await changes;

  const fanoutMessages = await (await js.consumers.get(STREAMS.events, WEBHOOK_FANOUT_CONSUMER)).consume({ max_messages: 256 });
  // Events of one message are queued in order; different messages are pipelined.
  const runner = new KeyedRunner(FANOUT_IN_FLIGHT);
  const fanoutLoop = consumeEvents(
    fanoutMessages,
    runner,
    log,
    (event) => event.messageId,
    async (m, event) => {
      try {
        await fanOut(js, registry, event, m.headers);
        m.ack();
      } catch (err) {
        log.warn({ err, subject: m.subject }, "could not queue an event for its webhooks; retrying");
        m.nak(1000);
      }
    },
    // Most events have no endpoint (a tenant without webhooks, an event type nobody asked
    // for): mail.events.<tenant>.<type> says so without decoding the event.
    (subject) => {
      const parts = subject.split(".");
      const tenant = parts[2];
      const type = parts[3];
      return parts.length === 4 && tenant !== undefined && isEventType(type) && registry.subscribers(tenant, type).length === 0;
    },
  );

  log.info({ endpoints: lanes.size }, "webhook actor started");
  return {
    close: async () => {
      await fanoutMessages.close().catch(() => undefined);
      await fanoutLoop;
      registry.stop();
      await changes;
      await Promise.all([...lanes.values()].map((l) => l.stop()));
      lanes.clear();
      await agent.close();
    },
  };
}
