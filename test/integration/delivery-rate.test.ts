// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { measuredRate, messages, publish, sendStreamMessages, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

// The first test: maxConnections 5 and 50 messages/s, 2,000 messages (≈ 40 s by design).
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
const policies = writePolicies({ domains: { "rate.test": { maxConnections: 5, messagesPerSecond: 50, burst: 10, maxMessagesPerConnection: 100 } } });

before(async () => {
  // The peer holds each RCPT a little, so five connections are really needed at 50/s.
  peer = await startSmtpPeer({ domains: { "rate.test": { delayMs: 20 } } });
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

test("a domain with maxConnections 5 and 50 messages/s: 2,000 delivered, never over 5 connections, rate within 10%", async () => {
  await publish(world, messages(2000, (i) => `user${i}@rate.test`));
  await peer.waitForMessages(2000, 55_000);
  const got = new Set(peer.messagesFor("rate.test").map((m) => m.rcptTo[0]));
  assert.equal(got.size, 2000);
  const maxSeen = peer.maxConcurrent.get("rate.test") ?? 0;
  assert.ok(maxSeen <= 5, `peer saw ${maxSeen} concurrent connections`);
  assert.ok(maxSeen >= 2, `the budget should need several connections, saw ${maxSeen}`);
  const rate = measuredRate(peer.messagesFor("rate.test").map((m) => m.at), 10);
  assert.ok(rate >= 45 && rate <= 55, `measured ${rate.toFixed(1)} messages/s`);
  await waitFor("every message acked", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined), 10_000);
});
