import { loadConfig } from "../../protocol/index.ts";
import { connectNats, ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";

export const help = `sluice init

Create or update the NATS topology (streams, consumers, KV buckets, object store) and exit.
Safe to run at any time and from several places at once.`;

export async function run(): Promise<void> {
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-init");
  try {
    const topology = topologyFor(topologyOptionsFrom(config));
    await ensureTopology(nc, topology);
    process.stdout.write(
      `topology ready: ${topology.streams.length} streams, ${topology.consumers.length} consumers, ` +
        `${topology.kv.length} KV buckets, ${topology.objectStores.length} object store(s) on ${config.nats.servers.join(",")}\n`,
    );
  } finally {
    await nc.close();
  }
}
