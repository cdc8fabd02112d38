import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Config, NodeRole } from "../protocol/index.ts";
import { startDeadLetterer } from "./dead-letterer.ts";
import { startDomainRechecker } from "./domains/rechecker.ts";
import { startDomainEvents } from "./domains/domain-events.ts";
import { startTenantEvents } from "./tenants/tenant-events.ts";
import { startFanout } from "./fanout/index.ts";
import { startInbound } from "./inbound/index.ts";
import { startStatusIndexer } from "./status-indexer.ts";
import { startWebhookActor } from "./webhooks/index.ts";
import { startScheduler } from "./scheduler/index.ts";

export interface NodeServices {
  close(): Promise<void>;
}

/**
 * The actors every node runs beside delivery: batch fan-out, the dead-letterer for
 * MAX_DELIVERIES advisories, the events consumer (status index and webhook fan-out) and the
 * webhook actor (the POSTs). Each works from a shared durable consumer, so running them on
 * every node spreads the work and lets any node die without stopping them. They are
 * started after delivery and closed before the connection drains, in reverse order.
 * `SLUICE_NODE_ROLES` picks which of them a process runs (all by default): under load the
 * events consumer costs a good part of the CPU per message, so a deployment may give the
 * services processes of their own.
 */
export async function startNodeServices(nc: NatsConnection, config: Config, logger: Logger): Promise<NodeServices> {
  const started: { name: string; close(): Promise<void> }[] = [];
  const runs = (role: NodeRole) => config.nodeRoles.includes(role);
  try {
    if (runs("fanout")) started.push({ name: "fanout", ...startFanout(nc, config, logger) });
    if (runs("dead-letterer")) started.push({ name: "dead-letterer", ...(await startDeadLetterer(nc, config, logger)) });
    if (runs("events")) started.push({ name: "events", ...(await startStatusIndexer(nc, config, logger)) });
    if (runs("events")) started.push({ name: "domain-rechecker", ...(await startDomainRechecker(nc, config, logger)) });
    if (runs("events")) started.push({ name: "domain-events", ...(await startDomainEvents(nc, config, logger)) });
    if (runs("events")) started.push({ name: "tenant-events", ...(await startTenantEvents(nc, logger)) });
    if (runs("webhooks")) started.push({ name: "webhooks", ...(await startWebhookActor(nc, config, logger)) });
    // Bounces, feedback reports, auto-replies: only with a bounce domain (else it idles).
    const inbound = runs("inbound") ? await startInbound(nc, config, logger) : undefined;
    if (inbound !== undefined) started.push({ name: "inbound", close: () => inbound.close() });
    // Scheduling: every node runs one; a lease makes one of them the leader that releases.
    if (runs("scheduler")) started.push({ name: "scheduler", ...(await startScheduler(nc, config, logger)) });
  } catch (e) {
    await closeAll(started, logger);
    throw e;
  }
  return { close: () => closeAll(started, logger) };
}

async function closeAll(started: { name: string; close(): Promise<void> }[], logger: Logger): Promise<void> {
  for (const s of started.reverse()) {
    await s.close().catch((e: unknown) => logger.error({ err: e, service: s.name }, "service did not close cleanly"));
  }
}
