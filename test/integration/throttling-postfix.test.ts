// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startPostfix, type Postfix, type PostfixLimits } from "../harness/postfix.ts";
import { waitFor } from "../harness/ports.ts";
import { messages, publish, readDeadLetters, readEvents, sendStreamMessages, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

// Issue 12: a real Postfix whose anvil limits are lower than the Sluice policy (10
// connections, 50 messages/s). Postfix refuses extra sessions at the greeting ("421 4.7.0
// Error: too many connections") and extra messages ("450 4.7.1 Error: too much mail").
// Sluice must learn those limits: every message delivered, few refusals, never suspended.

const POLICY = { maxConnections: 10, messagesPerSecond: 50, burst: 10, maxMessagesPerConnection: 20 };

let world: DeliveryWorld;
const policies = writePolicies({
  domains: {
    ...Object.fromEntries(["conn.test", "rate.test", "both.test"].map((d) => [d, POLICY])),
    // Short sessions, so that sessions opened before Postfix's reload (old limits) end soon.
    "tight.test": { ...POLICY, maxMessagesPerConnection: 5 },
  },
});

before(async () => {
  world = await startWorld({ SLUICE_POLICIES: policies.path });
});

after(async () => {
  await world?.dispose();
  policies.remove();
});

interface Run {
  postfix: Postfix;
  node: ActorNode;
  states: Set<string>;
  lowestConnections: number;
  lowestRate: number;
}

/** A Postfix with `limits`, a node routed to it, and a sampler of the destination's state. */
async function withPostfix<T>(domain: string, limits: PostfixLimits, body: (run: Run) => Promise<T>): Promise<T> {
  const postfix = await startPostfix({ domains: [domain], limits });
  const config = { ...world.config, routes: [{ pattern: "*", host: "127.0.0.1", port: postfix.port, secure: false }] };
  let node: ActorNode | undefined;
  const run: Run = { postfix, node: undefined as unknown as ActorNode, states: new Set(), lowestConnections: Infinity, lowestRate: Infinity };
  const sampler = setInterval(() => {
    const d = node?.stats().destinations.find((x) => x.key === domain);
    if (!d) return;
    run.states.add(d.state);
    run.lowestConnections = Math.min(run.lowestConnections, d.connectionLimit ?? d.maxConnections);
    run.lowestRate = Math.min(run.lowestRate, d.ratePerSecond);
  }, 50);
  try {
    node = await startNode(config, world.logger, world.nc);
    run.node = node;
    return await body(run);
  } finally {
    clearInterval(sampler);
    await node?.close();
    await postfix.stop();
  }
}

/** Publish `count` messages to `domain` and wait until Postfix has accepted `total` distinct recipients. */
async function deliverAll(run: Run, domain: string, count: number, timeoutMs: number, o: { prefix?: string; total?: number } = {}): Promise<void> {
  await publish(world, messages(count, (i) => `${o.prefix ?? "u"}${i}@${domain}`));
  const total = o.total ?? count;
  await waitFor(`${total} recipients accepted by Postfix`, () => (run.postfix.counts().recipients.size >= total ? true : undefined), timeoutMs, 200);
  await waitFor("every message acked", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined), 20_000, 200);
}

async function assertClean(run: Run, domain: string, count: number): Promise<void> {
  const counts = run.postfix.counts();
  assert.equal(counts.recipients.size, count, "every recipient reached Postfix");
  const events = (await readEvents(world)).filter((e) => e.rcptTo?.endsWith(`@${domain}`) === true);
  assert.equal(new Set(events.filter((e) => e.type === "delivered").map((e) => e.messageId)).size, count, "a delivered event for each message");
  assert.equal(events.filter((e) => e.type === "bounced" || e.type === "dead_lettered" || e.type === "failed").length, 0, "nothing bounced or dead-lettered");
  assert.equal((await readDeadLetters(world)).filter((d) => d.message.rcptTo.endsWith(`@${domain}`)).length, 0, "MAIL_DLQ holds none of them");
  const refusals = counts.connectionRefusals + counts.rateRefusals;
  process.stdout.write(`# ${domain}: ${count} messages, ${counts.connectionRefusals} sessions + ${counts.rateRefusals} messages refused, lowest rate ${run.lowestRate}/s, lowest connections ${run.lowestConnections}\n`);
  // Learning a limit costs a bounded number of refusals, whatever the volume: a few sessions
  // refused before the connection cap is found, a few messages before the rate is. One run
  // learning both limits saw 7 + 6; 20 is the bound for every run here.
  assert.ok(refusals < 20, `refusals bounded: ${counts.connectionRefusals} sessions + ${counts.rateRefusals} messages refused for ${count} messages`);
  assert.ok(!run.states.has("suspended") && !run.states.has("probing"), `never suspended (states seen: ${[...run.states].join(", ")})`);
}

test("Postfix allowing 3 connections under a policy of 10: the cap is learned, all delivered, never suspended", async () => {
  await withPostfix("conn.test", { connections: 3 }, async (run) => {
    await deliverAll(run, "conn.test", 150, 60_000);
    await assertClean(run, "conn.test", 150);
    assert.ok(run.postfix.counts().connectionRefusals > 0, "Postfix did refuse sessions");
    assert.ok(run.lowestConnections <= 3, `learned connection cap ${run.lowestConnections}`);
    const d = run.node.stats().destinations.find((x) => x.key === "conn.test");
    assert.equal(d?.connectionLimitSource, "learned");
  });
});

test("Postfix allowing 100 messages per 10 s under a policy of 50/s: the rate is learned, all delivered, never suspended", async () => {
  await withPostfix("rate.test", { messages: 100, rateUnitSeconds: 10 }, async (run) => {
    await deliverAll(run, "rate.test", 150, 60_000);
    await assertClean(run, "rate.test", 150);
    assert.ok(run.postfix.counts().rateRefusals > 0, "Postfix did refuse messages");
    assert.ok(run.lowestRate < 50 && run.lowestRate >= 5, `learned rate ${run.lowestRate}/s (Postfix allows 10/s)`);
    assert.ok(run.states.has("throttled"), "the destination showed it was throttled");
  });
});

test("Postfix enforcing 3 connections and 5 messages/s at once: both learned, all delivered, never suspended", async () => {
  await withPostfix("both.test", { connections: 3, messages: 50, rateUnitSeconds: 10 }, async (run) => {
    await deliverAll(run, "both.test", 80, 60_000);
    await assertClean(run, "both.test", 80);
    assert.ok(run.lowestConnections <= 3, `learned connection cap ${run.lowestConnections}`);
    assert.ok(run.lowestRate <= 5, `learned rate ${run.lowestRate}/s`);
  });
});

test("Postfix tightening its limits mid-run (reload): the new limits are learned, all delivered, never suspended", async () => {
  await withPostfix("tight.test", { connections: 6, messages: 150, rateUnitSeconds: 10 }, async (run) => {
    await deliverAll(run, "tight.test", 100, 60_000);
    const before = run.node.stats().destinations.find((x) => x.key === "tight.test");
    const refusedBefore = run.postfix.counts().rateRefusals + run.postfix.counts().connectionRefusals;
    await run.postfix.setLimits({ connections: 2, messages: 40 });
    run.lowestRate = Infinity;
    run.lowestConnections = Infinity;
    // After the reload, enough messages for the rate to be cut more than once (60 left it at 4.6/s once).
    await deliverAll(run, "tight.test", 100, 60_000, { prefix: "v", total: 200 });
    await assertClean(run, "tight.test", 200);
    const c = run.postfix.counts();
    const detail = JSON.stringify({ before: { rate: before?.ratePerSecond, connections: before?.connectionLimit, refusals: refusedBefore }, refusals: c.rateRefusals + c.connectionRefusals, lowestRate: run.lowestRate, lowestConnections: run.lowestConnections });
    assert.ok(c.rateRefusals + c.connectionRefusals > refusedBefore, `Postfix refused after the reload: ${detail}`);
    // The rate is the binding limit after the reload (4/s at one session at a time); sessions
    // opened before it keep Postfix's old concurrency limit until they close.
    assert.ok(run.lowestRate <= 4, `the tighter rate was learned after the reload: ${detail}`);
  });
});
