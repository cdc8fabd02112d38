import { startClusterNode } from "../../actors/cluster/index.ts";
import { startMetricsServer } from "../../actors/metrics-server.ts";
import { startNodeServices } from "../../actors/services.ts";
import { observeNodeStats } from "../../protocol/telemetry/index.ts";
import { loadConfig, assertSecretKey } from "../../protocol/index.ts";
import { connectNats, ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { onShutdown } from "../lifecycle.ts";
import { createLogger, logEffectiveConfig } from "../logger.ts";

export const help = `sluice node

Run one actor node alone (one role per process, for real deployments): it consumes
MAIL_SEND for the partitions it owns and delivers by SMTP. Start as many as you like, on
as many machines: they share the partitions through leases in NATS KV (see 'sluice
cluster'). SIGTERM hands this node's partitions over cleanly before it exits.

Besides delivery, a node runs the services: batch fan-out (fanout), the dead-letterer,
the events consumer (status index and webhook fan-out: events) and the webhook POSTs
(webhooks). SLUICE_NODE_ROLES chooses: "all" (the default), "delivery" (delivery alone),
"services" (everything but delivery: this process joins no partition), or a
comma-separated list of delivery, fanout, dead-letterer, events, webhooks, inbound
(bounces and feedback reports: an SMTP server on SLUICE_INBOUND_PORT; idle without
SLUICE_BOUNCE_DOMAIN, see 'sluice inbound --help').`;

export async function run(): Promise<void> {
  const config = loadConfig();
  assertSecretKey(config);
  const logger = createLogger(config, "sluice-node");
  logEffectiveConfig(logger, config);
  const nc = await connectNats(config.nats, `sluice-node-${config.nodeId}`, { waitOnFirstConnect: true, noAsyncTraces: true, coalesceWrites: true });
  // Starts with no partition; ownership hands it the ones it holds the locks of.
  const node = config.nodeRoles.includes("delivery") ? await startClusterNode(config, logger, nc) : undefined;
  // The delivery node ensures the topology as it starts; a services-only node must too.
  if (!node) await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const services = await startNodeServices(nc, config, logger);
  if (node) observeNodeStats(() => node.node.stats());
  const metrics = await startMetricsServer(config.metricsPort, logger);
  logger.info({ roles: config.nodeRoles }, "node started");
  onShutdown(logger, config.shutdownTimeoutMs, async () => {
    await services.close();
    await node?.close(); // hands every partition over: stop pulling, settle in-flight, release
    await metrics.close();
    await nc.drain().catch(() => undefined); // shutting down: everything was settled above; a closed connection has nothing to drain
  });
}
