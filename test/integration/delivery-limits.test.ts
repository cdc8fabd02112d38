// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import type { Behaviour } from "../harness/smtp-peer.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { measuredRate, messages, publish, sendStreamMessages, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

const DOMAINS = Array.from({ length: 20 }, (_, i) => ({ domain: `lim${i}.test`, maxConnections: 1 + (i % 3), messagesPerSecond: 8 + i, burst: 2 }));
const PER_DOMAIN = 60;

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
const connectionIndex = new Map<string, number>();
// Every third connection of throttle.test is refused with 421 at its first RCPT.
const throttling: Behaviour = {
  rcpt: ({ connectionId }) => {
    if (!connectionIndex.has(connectionId)) connectionIndex.set(connectionId, connectionIndex.size);
    return (connectionIndex.get(connectionId) ?? 0) % 3 === 2 ? { code: 421, text: "4.7.0 Too many connections, slow down" } : undefined;
  },
};
const policies = writePolicies({
  domains: {
    ...Object.fromEntries(DOMAINS.map((d) => [d.domain, { maxConnections: d.maxConnections, messagesPerSecond: d.messagesPerSecond, burst: d.burst }])),
    "throttle.test": { maxConnections: 4, messagesPerSecond: 40, burst: 4, maxMessagesPerConnection: 20 },
  },
});

before(async () => {
  peer = await startSmtpPeer({ default: { delayMs: 15 }, domains: { "throttle.test": throttling } });
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path, SLUICE_RETRY_SCHEDULE: "1s", SLUICE_RETRY_JITTER: "0.2" });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

test("20 domains at once, each with its own limits: every connection cap and rate holds", async () => {
  await publish(world, DOMAINS.flatMap((d) => messages(PER_DOMAIN, (i) => `u${i}@${d.domain}`)));
  await peer.waitForMessages(DOMAINS.length * PER_DOMAIN, 45_000);
  for (const d of DOMAINS) {
    const got = peer.messagesFor(d.domain);
    assert.equal(new Set(got.map((m) => m.rcptTo[0])).size, PER_DOMAIN, d.domain);
    const conns = peer.maxConcurrent.get(d.domain) ?? 0;
    assert.ok(conns <= d.maxConnections, `${d.domain}: ${conns} connections > ${d.maxConnections}`);
    const rate = measuredRate(got.map((m) => m.at), d.burst);
    assert.ok(rate <= d.messagesPerSecond * 1.1, `${d.domain}: ${rate.toFixed(1)}/s > ${d.messagesPerSecond}/s`);
  }
});

test("a domain that answers 421 to every third connection: all delivered, the connection cap backs off, nothing lost", async () => {
  const lowest: number[] = [];
  const sampler = setInterval(() => {
    const s = node.stats().destinations.find((d) => d.key === "throttle.test");
    if (s) lowest.push(s.connectionLimit ?? s.maxConnections);
  }, 100);
  try {
    await publish(world, messages(200, (i) => `t${i}@throttle.test`));
    await waitFor("200 distinct recipients", () => (new Set(peer.messagesFor("throttle.test").map((m) => m.rcptTo[0])).size >= 200 ? true : undefined), 40_000, 200);
  } finally {
    clearInterval(sampler);
  }
  assert.ok(peer.rejected.some((r) => r.domain === "throttle.test" && r.reply.code === 421), "the peer did refuse");
  const stats = node.stats().destinations.find((d) => d.key === "throttle.test");
  assert.ok((stats?.throttleEvents ?? 0) > 0, "throttle events are counted");
  // "Too many connections" is about concurrency: the learned cap drops below the policy's 4.
  assert.ok(Math.min(...lowest) < 4, `connection cap never backed off: lowest ${Math.min(...lowest)}`);
  assert.notEqual(stats?.state, "suspended");
  await waitFor("every message acked", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined), 10_000);
});
