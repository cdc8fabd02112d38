import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { startOwnership, type Ownership } from "../../actors/cluster/index.ts";
import { loadConfig } from "../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

/**
 * Issue 11: a node whose partition change failed (a consumer could not be opened while
 * JetStream elected leaders) was never told again, and mail of the partitions it held the
 * locks of but did not consume stayed put. Ownership must retry until the node confirms.
 */

const P = 8;
const config = loadConfig({ SLUICE_PARTITIONS: String(P), SLUICE_LEASE_TTL: "2s" });
const logger = pino({ level: process.env.TEST_LOG ?? "silent" });
let server: NatsServer;
let nc: NatsConnection;
let ownership: Ownership | undefined;

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
}, { timeout: 60_000 });

after(async () => {
  await ownership?.stop().catch(() => undefined);
  await nc?.close();
  await server?.dispose();
}, { timeout: 60_000 });

test("a partition change the node fails to apply is retried until the node consumes every partition it owns", { timeout: 60_000 }, async () => {
  let consuming: number[] = [];
  let failuresLeft = 3;
  const calls: number[][] = [];
  ownership = await startOwnership(nc, { ...config, nodeId: "solo" }, logger, {
    onChange: async (set) => {
      calls.push(set);
      // The change that takes the last partitions fails, as a consumer create timing out would.
      if (set.length === P && failuresLeft-- > 0) throw new Error("TimeoutError: timeout");
      consuming = set;
    },
  });
  const o = ownership;
  await waitFor("the node to consume every partition it owns", () => (o.owned().length === P && consuming.length === P ? true : undefined), 30_000, 20);
  assert.deepEqual(consuming, o.owned());
  assert.ok(calls.filter((c) => c.length === P).length >= 4, `calls: ${JSON.stringify(calls)}`);
});
