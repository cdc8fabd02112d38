// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { messages, publish, readDeadLetters, readEvents, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

// Replies real Postfix does not send, from a scripted peer: a 421 after DATA, vendor
// throttling wordings at RCPT. And the other side: a destination that cannot be reached
// at all is still an outage, and is suspended.

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
let deadPort: number;
const states = new Map<string, Set<string>>();
let sampler: NodeJS.Timeout;

let dataCount = 0;
const rcptCount = new Map<string, number>();
/** Refuse the first `n` RCPTs of each address with `text`. */
const firstRefused = (n: number, code: number, text: string) => ({
  rcpt: ({ address }: { address: string }) => {
    const k = (rcptCount.get(address) ?? 0) + 1;
    rcptCount.set(address, k);
    return k <= n ? { code, text } : undefined;
  },
});

const POLICY = { maxConnections: 4, messagesPerSecond: 40, burst: 4 };
const policies = writePolicies({
  domains: {
    "data421.test": POLICY,
    "gmail-rate.test": POLICY,
    "yahoo.test": POLICY,
    "outlook.test": POLICY,
    "down.test": { ...POLICY, suspendAfterFailures: 2, suspendSeconds: 60 },
  },
});

before(async () => {
  peer = await startSmtpPeer({
    domains: {
      // Microsoft's "server busy" after the message was sent, on every fifth DATA.
      "data421.test": { data: () => (++dataCount % 5 === 0 ? { code: 421, text: "4.7.500 Server busy. Please try again later from [127.0.0.1]. (S77719)" } : undefined) },
      "gmail-rate.test": firstRefused(1, 421, "4.7.28 Gmail has detected an unusual rate of mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited."),
      "yahoo.test": firstRefused(1, 421, "4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints"),
      "outlook.test": firstRefused(1, 451, "4.7.500 Server busy. Please try again later from [127.0.0.1]."),
    },
  });
  deadPort = await freePort(); // nothing listens there: connections are refused
  world = await startWorld({ SLUICE_ROUTES: `down.test=127.0.0.1:${deadPort},*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path });
  node = await startNode(world.config, world.logger, world.nc);
  sampler = setInterval(() => {
    for (const d of node.stats().destinations) {
      const set = states.get(d.key) ?? new Set<string>();
      set.add(d.state);
      states.set(d.key, set);
    }
  }, 50);
});

after(async () => {
  clearInterval(sampler);
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

async function assertThrottledNotFailed(domain: string, count: number): Promise<void> {
  await waitFor(`${count} messages at ${domain}`, () => (new Set(peer.messagesFor(domain).map((m) => m.rcptTo[0])).size >= count ? true : undefined), 60_000, 100);
  await waitFor(`${count} delivered events for ${domain}`, async () => {
    const delivered = (await readEvents(world)).filter((e) => e.type === "delivered" && e.rcptTo?.endsWith(`@${domain}`));
    return new Set(delivered.map((e) => e.messageId)).size >= count ? true : undefined;
  }, 20_000, 200);
  const events = (await readEvents(world)).filter((e) => e.rcptTo?.endsWith(`@${domain}`) === true);
  // A throttle refusal is not an attempt: no deferred event, nothing bounced or dead-lettered.
  assert.deepEqual(events.filter((e) => e.type !== "delivered").map((e) => e.type), []);
  assert.equal((await readDeadLetters(world)).filter((d) => d.message.rcptTo.endsWith(`@${domain}`)).length, 0);
  const seen = states.get(domain) ?? new Set();
  assert.ok(!seen.has("suspended") && !seen.has("probing"), `never suspended: ${[...seen].join(", ")}`);
  assert.ok(peer.rejected.some((r) => r.domain === domain), "the peer did refuse");
}

test("421 4.7.500 after DATA on every fifth message: requeued and delivered, no attempt spent, never suspended", async () => {
  await publish(world, messages(30, (i) => `d${i}@data421.test`));
  await assertThrottledNotFailed("data421.test", 30);
});

test("Gmail 4.7.28 'unusual rate', Yahoo TSS04 and Microsoft 4.7.500 at RCPT: throttling, delivered, never suspended", async () => {
  await publish(world, [
    ...messages(12, (i) => `g${i}@gmail-rate.test`),
    ...messages(12, (i) => `y${i}@yahoo.test`),
    ...messages(12, (i) => `o${i}@outlook.test`),
  ]);
  for (const d of ["gmail-rate.test", "yahoo.test", "outlook.test"]) await assertThrottledNotFailed(d, 12);
});

test("a destination refusing every connection is an outage: suspended, messages deferred, nothing dead-lettered", async () => {
  await publish(world, messages(5, (i) => `x${i}@down.test`));
  await waitFor("down.test suspended", () => (states.get("down.test")?.has("suspended") ? true : undefined), 30_000, 50);
  const d = node.stats().destinations.find((x) => x.key === "down.test");
  assert.equal(d?.throttleRefusals ?? 0, 0, "connection refused is not throttling");
  assert.equal((await readDeadLetters(world)).filter((x) => x.message.rcptTo.endsWith("@down.test")).length, 0);
});
