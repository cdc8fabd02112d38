import type { NatsConnection } from "@nats-io/transport-node";
import { type Config } from "../../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../../protocol/io/index.ts";
import { waitFor } from "../../harness/ports.ts";

/**
 * ensureTopology on a cluster that has only just formed: JetStream answers before the
 * meta group knows every peer, and an R3 create fails with "no suitable peers for
 * placement" for a moment. Retry until it goes through.
 */
export async function ensureTopologyOnFreshCluster(nc: NatsConnection, config: Config): Promise<void> {
  await waitFor("the topology to be created", async () => {
    // One attempt must not hang the test: a request during meta-leader election can stall.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("ensureTopology attempt timed out")), 20_000)));
    try {
      await Promise.race([ensureTopology(nc, topologyFor(topologyOptionsFrom(config))), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return true;
  }, 45_000, 500);
}
