import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../harness/ports.ts";
import { terminate } from "./cluster-helpers/children.ts";
import { mail, MAX_CONNECTIONS, publishAll, receipts, sendQueueEmpty, startClusterWorld, waitForOwners, type ClusterWorld } from "./cluster-helpers/world.ts";

/**
 * SIGTERM is a clean hand-over: the node stops pulling, hands back what it had queued,
 * finishes what it was sending, releases its partitions and exits 0. Nothing is lost and,
 * unlike a crash, nothing is delivered twice.
 */

const TOTAL = 3000;
let world: ClusterWorld;

before(async () => {
  world = await startClusterWorld({ servers: 1, env: { SLUICE_PARTITIONS: "8", SLUICE_LEASE_TTL: "3s", SLUICE_ACK_WAIT: "20s" } });
}, { timeout: 60_000 });

after(async () => {
  await world?.dispose();
}, { timeout: 60_000 });

test("SIGTERM of one of 2 nodes mid-run: exits 0, the other takes over at once, nothing lost, nothing twice", { timeout: 80_000 }, async (t) => {
  const [leaving] = [world.startNode("node-1"), world.startNode("node-2")];
  assert.ok(leaving);
  await waitForOwners(world, ["node-1", "node-2"]);
  await publishAll(world.js, world.config.partitions, mail(TOTAL, 16));
  await waitFor("a third of the mail to be delivered", () => (world.peer.messages.length >= TOTAL / 3 ? true : undefined), 40_000, 20);

  const signalledAt = Date.now();
  const code = await terminate(leaving, 30_000);
  const exitMs = Date.now() - signalledAt;
  assert.equal(code, 0, "the node exits cleanly");
  assert.equal(leaving.proc.signalCode, null, "it was not killed after the grace period");
  // The locks were released, not left to expire: the other node owns everything at once.
  await waitForOwners(world, ["node-2"], 5_000);
  const handOverMs = Date.now() - signalledAt;

  await waitFor("every message to be delivered", () => (receipts(world.peer).size >= TOTAL ? true : undefined), 60_000, 100);
  await waitFor("MAIL_SEND to be empty", async () => ((await sendQueueEmpty(world)) ? true : undefined), 10_000, 200);
  const got = receipts(world.peer);
  const twice = [...got].filter(([, times]) => times.length > 1).map(([id]) => id);
  t.diagnostic(JSON.stringify({ exitMs, handOverMs, delivered: got.size, twice: twice.length, maxConcurrent: Object.fromEntries(world.peer.maxConcurrent) }));
  assert.equal(got.size, TOTAL);
  assert.deepEqual(twice, [], "a drained node leaves nothing to be sent again");
  for (const [domain, max] of world.peer.maxConcurrent) if (domain !== "*") assert.ok(max <= MAX_CONNECTIONS, `${domain}: ${max} connections`);
});
