// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { STREAMS } from "../../protocol/index.ts";
import { measuredRate, messages, publish, samePartitionDomains, sendStreamMessages, startWorld, streamMessages, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

// Two domains in the same (tier, partition): one refuses every connection, one is healthy.
const [DEAD, HEALTHY] = samePartitionDomains(4, 2, "iso") as [string, string];
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
const policies = writePolicies({ domains: { [HEALTHY]: { messagesPerSecond: 50, burst: 5, maxConnections: 3 }, [DEAD]: { suspendAfterFailures: 3, suspendSeconds: 60 } } });

before(async () => {
  peer = await startSmtpPeer();
  const closed = await freePort(); // nothing listens here: connection refused
  world = await startWorld({ SLUICE_ROUTES: `${DEAD}=127.0.0.1:${closed},*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

test("a dead domain with 20,000 messages queued does not slow a healthy domain in the same partition and tier", async (t) => {
  await publish(world, messages(20_000, (i) => `d${i}@${DEAD}`));
  const healthyAt = Date.now();
  await publish(world, messages(200, (i) => `h${i}@${HEALTHY}`));
  await waitFor("healthy domain delivered", () => (peer.messagesFor(HEALTHY).length >= 200 ? true : undefined), 30_000, 100);
  const elapsed = (Date.now() - healthyAt) / 1000;
  // 200 at 50/s is 4 s by policy; pulling and handing back the dead backlog in front of it
  // adds a few seconds (7–9 s in all on the shared box). A stalled partition would wait for
  // the dead messages' first retry (≥ 60 s), so 25 s still tells the two apart under load.
  assert.ok(elapsed < 25, `healthy domain took ${elapsed.toFixed(1)} s behind the dead one`);
  t.diagnostic(`healthy domain: 200 delivered ${elapsed.toFixed(1)} s after publishing`);
  const rate = measuredRate(peer.messagesFor(HEALTHY).map((m) => m.at), 5);
  assert.ok(rate >= 40, `healthy rate ${rate.toFixed(1)}/s`);
  const dead = node.stats().destinations.find((d) => d.key === DEAD);
  assert.equal(dead?.state, "suspended");
  assert.equal(dead?.delivered, 0);
  // Nothing of the dead domain is lost: it waits in JetStream for its retry (on MAIL_SEND, or
  // parked on MAIL_PARKED: what overflowed its queue before the circuit opened).
  await waitFor("healthy acked, dead kept", async () => ((await sendStreamMessages(world)) + (await streamMessages(world, STREAMS.parked)) === 20_000 ? true : undefined), 10_000);
});
