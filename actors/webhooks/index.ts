import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { KV_BUCKETS, type Config, type WebhookEndpoint } from "../../protocol/index.ts";
import { ensureLaneConsumers } from "../../protocol/io/index.ts";
import { EndpointLanes, type LaneSettings } from "./lanes.ts";
import { webhookAgent } from "./post.ts";
import { EndpointRegistry } from "./registry.ts";

/** 5 s, 30 s, 2 min, 10 min, 30 min, then hourly until SLUICE_WEBHOOK_MAX_AGE (24 h). */
export const DEFAULT_WEBHOOK_BACKOFF_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000] as const;

export interface WebhookActorOptions {
  backoffMs?: readonly number[];
  timeoutMs?: number;
}

export interface WebhookActor {
  close(): Promise<void>;
}

/**
 * The webhook actor: per-endpoint lanes on MAIL_WEBHOOKS → signed POSTs. The jobs on the
 * lanes are queued by the events consumer (actors/status-indexer.ts, `fanOut`), which
 * reads MAIL_EVENTS once for the status index and the webhooks alike. Any number of
 * processes may run this actor: the lane consumers are shared durables, and
 * max_ack_pending 1 per lane keeps order across processes too.
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

  log.info({ endpoints: lanes.size }, "webhook actor started");
  return {
    close: async () => {
      registry.stop();
      await changes;
      await Promise.all([...lanes.values()].map((l) => l.stop()));
      lanes.clear();
      await agent.close();
    },
  };
}
