import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { sleep, waitFor } from "../harness/ports.ts";
import { postMessage, receipts, sendQueueEmpty, startClusterWorld, startGatewayProcess, waitForOwners, type ClusterWorld } from "./cluster-helpers/world.ts";

/**
 * A single NATS server restarted while mail is being delivered: the gateway (a process)
 * answers 503 while it is down and never 202; the node (a process) fences its partitions,
 * and both resume by themselves when NATS is back. Everything accepted is delivered.
 */

let world: ClusterWorld;

before(async () => {
  world = await startClusterWorld({
    servers: 1,
    env: { SLUICE_PARTITIONS: "4", SLUICE_LEASE_TTL: "3s", SLUICE_ACK_WAIT: "15s" },
    policy: { defaults: { messagesPerSecond: 50, burst: 50, maxConnections: 2, maxMessagesPerConnection: 1000 } },
  });
}, { timeout: 60_000 });

after(async () => {
  await world?.dispose();
}, { timeout: 60_000 });

test("single NATS server restarted mid-delivery: gateway 503 while down, gateway and node resume by themselves", { timeout: 85_000 }, async (t) => {
  world.startNode("node-1");
  const gateway = await startGatewayProcess(world);
  await waitForOwners(world, ["node-1"]);
  const accepted: string[] = [];
  const post = async (i: number): Promise<number> => {
    const r = await postMessage(gateway.url, gateway.key, `user${i}@d${i % 4}.test`, `restart-${i}`);
    if (r.status === 202 && r.id && !accepted.includes(r.id)) accepted.push(r.id);
    return r.status;
  };
  // 400 messages at 50/s per domain over 4 domains: delivery takes ~2 s, so it is under way at the stop.
  for (let i = 0; i < 400; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => post(i + k)));
  assert.equal(accepted.length, 400);
  await waitFor("delivery to be under way", () => (world.peer.messages.length >= 20 ? true : undefined), 20_000, 10);

  const server = world.servers[0];
  assert.ok(server);
  await server.stop();
  const downAt = Date.now();
  const whileDown: number[] = [];
  for (let i = 0; i < 10; i++) whileDown.push(await post(1000 + i));
  assert.ok(whileDown.every((s) => s === 503), `answers while NATS was down: ${whileDown.join(",")}`);
  assert.equal((await fetch(`${gateway.url}/readyz`)).status, 503);
  const deliveredWhileDown = world.peer.messages.length;
  await sleep(Math.max(0, 4000 - (Date.now() - downAt))); // longer than 60% of the lease TTL: the node fences
  await server.start();

  await waitFor("the gateway to accept again", async () => ((await post(2000)) === 202 ? true : undefined), 30_000, 250);
  for (let i = 0; i < 100; i++) await post(3000 + i);
  await waitFor("every accepted message to be delivered", () => (accepted.every((id) => receipts(world.peer).has(id)) ? true : undefined), 60_000, 200);
  await waitFor("MAIL_SEND to be empty", async () => ((await sendQueueEmpty(world)) ? true : undefined), 30_000, 200);
  const got = receipts(world.peer);
  t.diagnostic(JSON.stringify({ accepted: accepted.length, delivered: got.size, deliveredWhileDown, downMs: Date.now() - downAt }));
  assert.equal(got.size, accepted.length, "exactly the accepted messages arrived");
  for (const n of world.nodes) assert.equal(n.proc.exitCode, null, `${n.name} kept running`);
});
