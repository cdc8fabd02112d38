import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { readClusterStatus } from "../../actors/cluster/index.ts";
import { KV_BUCKETS, STATUS_INDEXER_CONSUMER, STREAMS } from "../../protocol/index.ts";
import { readMessageStatus } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { terminate } from "./cluster-helpers/children.ts";
import { mail, publishAll, receipts, startClusterWorld, waitForOwners, type ClusterWorld } from "./cluster-helpers/world.ts";

/**
 * SLUICE_NODE_ROLES splits a node's work across processes: a "delivery" node owns
 * partitions and sends, and indexes nothing; a "services" node joins no partition and
 * indexes what the delivery node reports.
 */

let world: ClusterWorld;

before(async () => {
  world = await startClusterWorld({ servers: 1, env: { SLUICE_PARTITIONS: "4", SLUICE_LEASE_TTL: "3s" } });
}, { timeout: 60_000 });

after(async () => {
  await world?.dispose();
}, { timeout: 60_000 });

async function indexerBacklog(): Promise<number> {
  const info = await (await jetstreamManager(world.nc)).consumers.info(STREAMS.events, STATUS_INDEXER_CONSUMER);
  return info.num_pending + info.num_ack_pending;
}

test("a delivery-only node sends without indexing; a services-only node owns no partition and indexes", { timeout: 90_000 }, async () => {
  world.startNode("deliverer", { SLUICE_NODE_ROLES: "delivery" });
  await waitForOwners(world, ["deliverer"]);

  const first = mail(40, 4);
  await publishAll(world.js, world.config.partitions, first);
  await waitFor("the first 40 to be delivered", () => (first.every((m) => receipts(world.peer).has(m.id)) ? true : undefined), 30_000, 50);
  // Their `delivered` events wait on MAIL_EVENTS: nobody runs the status indexer yet.
  await waitFor("40 delivered events waiting for an indexer", async () => ((await indexerBacklog()) >= 40 ? true : undefined), 10_000, 100);
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.status);
  assert.equal(await readMessageStatus(kv, "acme", first[0]?.id ?? ""), undefined, "not indexed by the delivery node");

  const services = world.startNode("services", { SLUICE_NODE_ROLES: "services" });
  await waitFor("the services node to index the backlog", async () => ((await indexerBacklog()) === 0 ? true : undefined), 30_000, 100);
  for (const m of first) assert.equal((await readMessageStatus(kv, "acme", m.id))?.status, "delivered", m.id);

  const status = await readClusterStatus(world.nc, world.config.partitions);
  const members = status.nodes.map((n) => n.id);
  assert.ok(members.includes("deliverer"), `members: ${members.join(",")}`);
  assert.ok(!members.includes("services"), "a services-only node is no cluster member");
  assert.deepEqual(status.unowned, []);

  // And a services node leaves nothing behind when it stops.
  assert.equal(await terminate(services, 20_000), 0);
});
