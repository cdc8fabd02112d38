import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { type Config } from "../../protocol/index.ts";
import { connectNats } from "../../protocol/io/index.ts";
import { startNode, type ActorNode } from "../node.ts";
import { startOwnership, type Ownership } from "./ownership.ts";

export interface ClusterNode {
  node: ActorNode;
  ownership: Ownership;
  /** Graceful stop: hand every partition over (stop pulling, settle in-flight, release), then close. */
  close(): Promise<void>;
}

/**
 * An actor node that consumes only the partitions it holds the locks of. It starts with
 * none, and ownership tells it what to take and what to give back.
 */
export async function startClusterNode(config: Config, logger: Logger, injected?: NatsConnection): Promise<ClusterNode> {
  const nc = injected ?? (await connectNats(config.nats, "sluice-node", { waitOnFirstConnect: true }));
  const node = await startNode(config, logger, nc, { partitions: [] });
  const ownership = await startOwnership(nc, config, logger, { onChange: (ps) => node.setPartitions(ps) });
  let closing: Promise<void> | undefined;
  return {
    node,
    ownership,
    close: () =>
      (closing ??= (async () => {
        await ownership.stop();
        await node.close();
        if (!injected) await nc.drain().catch(() => undefined); // shutting down: everything was settled above; a closed connection has nothing to drain
      })()),
  };
}
