import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { connectNats, ensureTopology, topologyFor, topologyOptionsFrom, type Config } from "../protocol/index.ts";

export interface ActorNode {
  /** Partitions this node consumes. One node owns all of them until cluster ownership exists. */
  partitions: number[];
  close(): Promise<void>;
}

/**
 * An actor node: connects, makes sure the topology exists, and (once the delivery issue
 * lands) runs the per-(tier, partition) consumers and the domain actors.
 */
export async function startNode(config: Config, logger: Logger, injected?: NatsConnection): Promise<ActorNode> {
  const nc = injected ?? (await connectNats(config.nats, "sluice-node", { waitOnFirstConnect: true }));
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const partitions = Array.from({ length: config.partitions }, (_, i) => i);
  logger.info({ partitions: partitions.length }, "actor node ready");
  return {
    partitions,
    close: async () => {
      if (!injected) await nc.drain().catch(() => undefined);
    },
  };
}
