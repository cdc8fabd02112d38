import { startNode } from "../../actors/index.ts";
import { startMetricsServer } from "../../actors/metrics-server.ts";
import { startNodeServices } from "../../actors/services.ts";
import { observeNodeStats } from "../../protocol/telemetry/index.ts";
import { connectNats, ensureTopology, loadConfig, topologyFor, topologyOptionsFrom } from "../../protocol/index.ts";
import { onShutdown } from "../lifecycle.ts";
import { createLogger } from "../logger.ts";

export const help = `sluice node

Run one actor node alone (one role per process, for real deployments): it consumes
MAIL_SEND for the partitions it owns and delivers by SMTP.`;

export async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, "sluice-node");
  const nc = await connectNats(config.nats, `sluice-node-${config.nodeId}`, { waitOnFirstConnect: true });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const node = await startNode(config, logger, nc);
  const services = await startNodeServices(nc, config, logger);
  observeNodeStats(() => node.stats());
  const metrics = await startMetricsServer(config.metricsPort, logger);
  onShutdown(logger, async () => {
    await services.close();
    await node.close();
    await metrics.close();
    await nc.drain().catch(() => undefined);
  });
}
