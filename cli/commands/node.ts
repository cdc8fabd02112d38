import { startClusterNode } from "../../actors/cluster/index.ts";
import { loadConfig } from "../../protocol/index.ts";
import { onShutdown } from "../lifecycle.ts";
import { createLogger } from "../logger.ts";

export const help = `sluice node

Run one actor node alone (one role per process, for real deployments): it consumes
MAIL_SEND for the partitions it owns and delivers by SMTP. Start as many as you like, on
as many machines: they share the partitions through leases in NATS KV (see 'sluice
cluster'). SIGTERM hands this node's partitions over cleanly before it exits.`;

export async function run(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config, "sluice-node");
  const node = await startClusterNode(config, logger);
  onShutdown(logger, () => node.close());
}
