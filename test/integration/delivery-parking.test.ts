import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { STREAMS, type DeliveryMessageInput } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { messages, publish, readEvents, samePartitionDomains, sendStreamMessages, startWorld, streamMessages, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

// Parking (issue 17): a slow destination's overflow leaves MAIL_SEND for MAIL_PARKED and is
// pulled from there only as the destination drains. With SLUICE_ACK_WAIT=4s a destination's queue holds
// rate × 2 s: 80 messages at 40 msg/s, so a few hundred are enough to park most of them.
const BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));
const [SLOW, FAST] = samePartitionDomains(4, 2, "park") as [string, string];
const HANDOVER = "handover-slow.test";
const CRASH = "crash-slow.test";
const EXPIRY = "expiry-slow.test";
const RETRY = "retry-slow.test";
const slow = { messagesPerSecond: 40, burst: 1, maxConnections: 1 };
const RATE = slow.messagesPerSecond;
// The expiry test's deadlines (3 s) are set for 20 msg/s: 200 messages take 10 s, so some of each kind run out.
const policies = writePolicies({ domains: { [SLOW]: slow, [HANDOVER]: slow, [CRASH]: slow, [EXPIRY]: { ...slow, messagesPerSecond: 20 }, [RETRY]: slow, [FAST]: { messagesPerSecond: 500, burst: 50, maxConnections: 4 } } });
const MAX_AGE_MS = 3_600_000;
let world: DeliveryWorld;
let peer: SmtpPeer;
let child: ChildProcess | undefined;
const env = () => ({
  SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
  SLUICE_POLICIES: policies.path,
  SLUICE_ACK_WAIT: "4s",
  SLUICE_MAX_AGE: "1h",
  SLUICE_RETRY_SCHEDULE: "1s",
  SLUICE_PARTITIONS: "4",
  SLUICE_PARK_OVERFLOW: "1",
  SLUICE_METRICS_PORT: "0",
  SLUICE_SECRET_KEY: "parking-test-secret-key",
});

before(async () => {
  // RETRY's first attempt at every recipient is deferred (451), the second accepted.
  peer = await startSmtpPeer({ domains: { [RETRY]: { rcpt: (c) => (c.attempt === 1 ? { code: 451, text: "4.3.0 Temporary local problem, try again" } : undefined) } } });
  world = await startWorld(env());
});

after(async () => {
  child?.kill("SIGKILL");
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

/** JetStream deliveries so far by every consumer of a stream. */
async function deliveries(stream: string): Promise<number> {
  let n = 0;
  for await (const c of (await jetstreamManager(world.nc)).consumers.list(stream)) n += c.delivered.consumer_seq;
  return n;
}

/** Messages delivered to a consumer of `stream` and not yet acknowledged, over all its consumers. */
async function ackPending(stream: string): Promise<number> {
  let n = 0;
  for await (const c of (await jetstreamManager(world.nc)).consumers.list(stream)) n += c.num_ack_pending;
  return n;
}

const recipients = (domain: string): string[] => peer.messagesFor(domain).map((m) => m.rcptTo[0] as string);

/** Every recipient of `domain` arrived; returns how many arrived more than once. */
async function allDelivered(domain: string, total: number, timeoutMs: number): Promise<number> {
  await waitFor(`${total} delivered to ${domain}`, () => (new Set(recipients(domain)).size >= total ? true : undefined), timeoutMs, 100);
  return recipients(domain).length - total;
}

test("a slow destination's backlog is parked once and drained at its rate; a fast one in the same partition is not held up", async (t) => {
  const node = await startNode(world.config, world.logger, world.nc);
  try {
    const sendBefore = await deliveries(STREAMS.send);
    const total = 240;
    await publish(world, messages(total, (i) => `s${i}@${SLOW}`));
    await publish(world, messages(100, (i) => `f${i}@${FAST}`));
    // The fast domain's mail sits behind the slow backlog in the same (tier, partition).
    await allDelivered(FAST, 100, 30_000);
    const slowWhenFastDone = new Set(recipients(SLOW)).size;
    t.diagnostic(`fast domain done when the slow one had ${slowWhenFastDone} of ${total}`);
    assert.ok(slowWhenFastDone < total / 2, `the fast domain waited for the slow one (${slowWhenFastDone} slow delivered first)`);
    const parked = await streamMessages(world, STREAMS.parked);
    assert.ok(parked >= total / 2, `only ${parked} parked`);
    // Nothing waits on nak(delay) in MAIL_SEND: what is left there is at most a queue's worth.
    assert.ok((await sendStreamMessages(world)) <= 2 * 2 * RATE + 64, "slow mail pending in MAIL_SEND");
    // The parked consumer is removed once it is empty: sample its deliveries while it drains.
    let parkedDeliveries = 0;
    const sampler = setInterval(() => void deliveries(STREAMS.parked).then((n) => (parkedDeliveries = Math.max(parkedDeliveries, n))), 200);
    const dup = await allDelivered(SLOW, total, 90_000).finally(() => clearInterval(sampler));
    assert.equal(dup, 0);
    // Never faster than the policy (burst 1).
    const at = peer.messagesFor(SLOW).map((m) => m.at).sort((a, b) => a - b);
    const rate = (at.length - 1) / (((at.at(-1) as number) - (at[0] as number)) / 1000);
    t.diagnostic(`slow domain drained at ${rate.toFixed(1)} msg/s (policy ${RATE})`);
    assert.ok(rate <= RATE * 1.15, `slow domain at ${rate.toFixed(1)} msg/s`);
    await waitFor("both streams empty", async () => ((await sendStreamMessages(world)) === 0 && (await streamMessages(world, STREAMS.parked)) === 0 ? true : undefined), 10_000);
    // Each message pulled from MAIL_SEND once; a slow one parked once and pulled from
    // MAIL_PARKED once: no redelivery per pass, however long the backlog waits.
    const sendDeliveries = (await deliveries(STREAMS.send)) - sendBefore;
    const parks = (await (await jetstreamManager(world.nc)).streams.info(STREAMS.parked)).state.last_seq;
    t.diagnostic(`MAIL_SEND deliveries ${sendDeliveries}, parked ${parks}, MAIL_PARKED deliveries ≥ ${parkedDeliveries}, for ${total} slow + 100 fast messages`);
    assert.ok(sendDeliveries <= total + 100 + 10, `${sendDeliveries} MAIL_SEND deliveries`);
    assert.ok(parks <= total, `${parks} parks for ${total} messages`);
    assert.ok(parkedDeliveries <= parks + 10, `${parkedDeliveries} MAIL_PARKED deliveries for ${parks} parked`);
  } finally {
    await node.close();
  }
});

test("a partition handed over with parked mail: the new owner finds it and delivers each message once", async () => {
  const a = await startNode(world.config, world.logger, world.nc);
  let b: ActorNode | undefined;
  try {
    const total = 200;
    await publish(world, messages(total, (i) => `h${i}@${HANDOVER}`));
    await waitFor("parked on the first node", async () => ((await streamMessages(world, STREAMS.parked)) >= 100 ? true : undefined), 20_000, 100);
    await a.setPartitions([]);
    b = await startNode({ ...world.config, nodeId: "parking-b" }, world.logger, world.nc);
    assert.equal(await allDelivered(HANDOVER, total, 60_000), 0);
    await waitFor("both streams empty", async () => ((await sendStreamMessages(world)) === 0 && (await streamMessages(world, STREAMS.parked)) === 0 ? true : undefined), 10_000);
  } finally {
    await a.close();
    await b?.close();
  }
});

test("a node killed with parked mail: after a restart every message is delivered, twice only what the dead node had sent and not acknowledged", async (t) => {
  child = spawn(process.execPath, [BIN, "node"], {
    env: { ...process.env, NATS_URL: world.nats.url, SLUICE_LOG_LEVEL: "warn", SLUICE_NODE_ID: "doomed", ...env() },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const total = 200;
  await publish(world, messages(total, (i) => `k${i}@${CRASH}`));
  await waitFor("parked by the first node", async () => ((await streamMessages(world, STREAMS.parked)) >= 100 ? true : undefined), 30_000, 100);
  child.kill("SIGKILL");
  const killedAt = Date.now();
  // What the dead node held unacknowledged (queued, sending, or sent with its ack not yet at
  // JetStream): the most that can come back and be sent again.
  const unacked = (await ackPending(STREAMS.send)) + (await ackPending(STREAMS.parked));
  const node = await startNode(world.config, world.logger, world.nc);
  try {
    const dup = await allDelivered(CRASH, total, 90_000);
    t.diagnostic(`duplicates: ${dup}, unacknowledged at the kill: ${unacked}`);
    assert.ok(dup <= unacked, `${dup} delivered twice, but only ${unacked} were unacknowledged at the kill`);
    // A message is sent twice only if the dead node had sent it: its first copy came before the kill.
    const firsts = new Map<string, number>();
    for (const m of peer.messagesFor(CRASH)) if (!firsts.has(m.rcptTo[0] as string)) firsts.set(m.rcptTo[0] as string, m.at);
    const twice = [...new Set(recipients(CRASH).filter((r, i, all) => all.indexOf(r) !== i))];
    for (const r of twice) assert.ok((firsts.get(r) as number) <= killedAt, `${r} first delivered after the kill, then again`);
    await waitFor("both streams empty", async () => ((await sendStreamMessages(world)) === 0 && (await streamMessages(world, STREAMS.parked)) === 0 ? true : undefined), 20_000);
  } finally {
    await node.close();
  }
});

test("parked mail past its expiry or its max age ends expired or dead-lettered, not lost", async () => {
  const now = Date.now();
  const byExpiry: DeliveryMessageInput[] = messages(100, (i) => `e${i}@${EXPIRY}`).map((m) => ({ ...m, expiresAt: now + 3000 }));
  // Created just short of SLUICE_MAX_AGE ago: too old by the time the queue reaches them.
  const byAge = messages(100, (i) => `a${i}@${EXPIRY}`, { createdAt: now - MAX_AGE_MS + 3000 });
  const node = await startNode(world.config, world.logger, world.nc);
  try {
    await publish(world, [...byExpiry, ...byAge]);
    const ids = new Set([...byExpiry, ...byAge].map((m) => m.id));
    const ends = await waitFor(
      "every message at an end",
      async () => {
        const end = new Map<string, string>();
        for (const e of await readEvents(world)) {
          if (ids.has(e.messageId) && ["delivered", "expired", "dead_lettered"].includes(e.type)) end.set(e.messageId, e.type);
        }
        return end.size === ids.size ? end : undefined;
      },
      40_000,
      250,
    );
    const count = (type: string, list: DeliveryMessageInput[]) => list.filter((m) => ends.get(m.id) === type).length;
    assert.ok(count("expired", byExpiry) > 0, "no parked message ended expired");
    assert.equal(count("expired", byExpiry) + count("delivered", byExpiry), byExpiry.length);
    assert.ok(count("dead_lettered", byAge) > 0, "no parked message ended dead-lettered for its max age");
    assert.equal(count("dead_lettered", byAge) + count("delivered", byAge), byAge.length);
    await waitFor("both streams empty", async () => ((await sendStreamMessages(world)) === 0 && (await streamMessages(world, STREAMS.parked)) === 0 ? true : undefined), 10_000);
  } finally {
    await node.close();
  }
});

test("parked mail deferred by the destination is retried on its schedule and counted as a second attempt", async () => {
  const total = 150;
  const list = messages(total, (i) => `r${i}@${RETRY}`);
  const parks = async () => (await (await jetstreamManager(world.nc)).streams.info(STREAMS.parked)).state.last_seq;
  const parksBefore = await parks();
  const node = await startNode(world.config, world.logger, world.nc);
  try {
    await publish(world, list);
    assert.equal(await allDelivered(RETRY, total, 60_000), 0);
    assert.ok((await parks()) - parksBefore >= total / 3, `only ${(await parks()) - parksBefore} of ${total} were parked`);
    const ids = new Set(list.map((m) => m.id));
    const events = await waitFor(
      "a delivered event for each",
      async () => {
        const mine = (await readEvents(world)).filter((e) => ids.has(e.messageId));
        return mine.filter((e) => e.type === "delivered").length === total ? mine : undefined;
      },
      10_000,
      250,
    );
    assert.deepEqual(new Set(events.filter((e) => e.type === "deferred").map((e) => e.attempt)), new Set([1]));
    assert.equal(events.filter((e) => e.type === "deferred").length, total);
    assert.deepEqual(new Set(events.filter((e) => e.type === "delivered").map((e) => e.attempt)), new Set([2]), "the attempt count carried over the park");
    assert.equal(events.filter((e) => e.type === "dead_lettered").length, 0);
    await waitFor("both streams empty", async () => ((await sendStreamMessages(world)) === 0 && (await streamMessages(world, STREAMS.parked)) === 0 ? true : undefined), 10_000);
  } finally {
    await node.close();
  }
});
