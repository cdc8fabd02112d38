// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { messages, publish, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
const policies = writePolicies({ domains: { "prio.test": { messagesPerSecond: 100, burst: 10, maxConnections: 2 } } });

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

test("critical messages sent while 50,000 bulk messages for the same domain wait are delivered first", async (t) => {
  await publish(world, messages(50_000, (i) => `bulk${i}@prio.test`, { tier: "bulk" }));
  await waitFor("bulk flowing", () => (peer.messagesFor("prio.test").length >= 100 ? true : undefined), 30_000, 50);
  const before = peer.messagesFor("prio.test").length;
  await publish(world, messages(20, (i) => `vip${i}@prio.test`, { tier: "critical" }));
  await waitFor("critical delivered", () => (peer.messagesFor("prio.test").filter((m) => m.rcptTo[0]?.startsWith("vip")).length >= 20 ? true : undefined), 15_000, 20);
  const all = peer.messagesFor("prio.test");
  let lastCritical = -1;
  all.forEach((m, i) => {
    if (m.rcptTo[0]?.startsWith("vip")) lastCritical = i;
  });
  const bulkInBetween = all.slice(before, lastCritical + 1).filter((m) => m.rcptTo[0]?.startsWith("bulk")).length;
  t.diagnostic(`bulk delivered between the critical publish and the last critical delivery: ${bulkInBetween}; bulk delivered so far: ${all.length - 20}`);
  // At 100/s, well under two seconds' worth of bulk may slip in (what was already being sent or pulled).
  assert.ok(bulkInBetween < 150, `${bulkInBetween} bulk messages went before the critical ones`);
  assert.ok(all.length - 20 < 50_000 - 40_000, "critical was not simply delivered after the bulk");
});
