import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type ConsumerMessages } from "@nats-io/jetstream";
import { pino } from "pino";
import { startOwnership, partitionsFor, type Ownership, type OwnershipEvent } from "../../actors/cluster/index.ts";
import { KV_BUCKETS, OBJECT_STORES, STREAMS, TIERS, loadConfig, sendConsumerName, subjects } from "../../protocol/index.ts";
import { startNatsCluster, type NatsCluster } from "../harness/nats-server.ts";
import { sleep, waitFor } from "../harness/ports.ts";
import { ExclusivityLog, modelNode } from "./cluster-helpers/exclusivity.ts";
import { ensureTopologyOnFreshCluster } from "./cluster-helpers/topology.ts";

/**
 * The NATS side of running Sluice on a 3-server cluster with SLUICE_REPLICAS=3: every
 * stream and bucket is R3, and losing one server neither loses queued mail nor breaks
 * partition ownership. (The actor node's own crash tests are in cluster-crash.test.ts.)
 */

const P = 4;
const config = loadConfig({ SLUICE_PARTITIONS: String(P), SLUICE_REPLICAS: "3", SLUICE_LEASE_TTL: "6s", SLUICE_ACK_WAIT: "5s" });
const logger = pino({ level: process.env.TEST_LOG ?? "silent" });

let cluster: NatsCluster;
let nc: NatsConnection;

before(async () => {
  cluster = await startNatsCluster(3);
  nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  await ensureTopologyOnFreshCluster(nc, config);
}, { timeout: 60_000 });

after(async () => {
  await nc?.close();
  await cluster?.dispose();
}, { timeout: 60_000 });

/** The server that leads a stream's raft group (where a stop hurts most). */
async function leaderOf(stream: string) {
  const info = await (await jetstreamManager(nc)).streams.info(stream);
  const server = cluster.servers.find((s) => s.name === info.cluster?.leader);
  assert.ok(server, `no leader for ${stream}`);
  return server;
}

test("with SLUICE_REPLICAS=3 every stream, KV bucket and the object store has 3 replicas", async () => {
  const jsm = await jetstreamManager(nc);
  const names = [
    ...Object.values(STREAMS),
    ...Object.values(KV_BUCKETS).map((b) => `KV_${b}`),
    `OBJ_${OBJECT_STORES.payloads}`,
  ];
  for (const name of names) {
    const info = await jsm.streams.info(name);
    assert.equal(info.config.num_replicas, 3, name);
    assert.equal((info.cluster?.replicas?.length ?? 0) + 1, 3, `${name} has a leader and 2 replicas`);
  }
});

test("one of 3 servers stops during ingestion and consumption: every message arrives, none is lost", { timeout: 60_000 }, async () => {
  const total = 3000;
  const js = jetstream(nc);
  const received = new Map<string, number>();
  const consumers: ConsumerMessages[] = [];
  for (const tier of TIERS) {
    for (let p = 0; p < P; p++) {
      const c = await js.consumers.get(STREAMS.send, sendConsumerName(tier, p));
      const messages = await c.consume({ max_messages: 50, expires: 2000 });
      consumers.push(messages);
      void (async () => {
        for await (const m of messages) {
          const id = m.string();
          received.set(id, (received.get(id) ?? 0) + 1);
          m.ack();
        }
      })();
    }
  }

  // A client that retries what was not acknowledged, as a gateway client retries a 503;
  // the message id makes a retried publish that did land a duplicate JetStream drops.
  let publishRetries = 0;
  const publish = async (i: number): Promise<void> => {
    const id = `m-${i}`;
    const subject = subjects.send(TIERS[i % 3] ?? "bulk", i % P);
    for (let attempt = 0; ; attempt++) {
      try {
        await js.publish(subject, id, { msgID: id, timeout: 2000 });
        return;
      } catch (e) {
        if (attempt > 60) throw e;
        publishRetries++;
        await sleep(200);
      }
    }
  };
  const stopped = (async () => {
    await waitFor("a third of the mail to be consumed", () => (received.size >= total / 3 ? true : undefined), 30_000, 10);
    await (await leaderOf(STREAMS.send)).stop();
  })();
  for (let i = 0; i < total; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => publish(i + k)));
  await stopped;
  await waitFor("every message to be consumed", () => (received.size === total ? true : undefined), 30_000, 50);
  // An ack the stopped server swallowed is redelivered after ack_wait (5 s here) and acked again.
  const jsm = await jetstreamManager(nc);
  await waitFor("the work queue to be empty", async () => ((await jsm.streams.info(STREAMS.send)).state.messages === 0 ? true : undefined), 20_000, 200);
  for (const m of consumers) m.stop();

  const duplicates = [...received.values()].reduce((n, c) => n + c - 1, 0);
  logger.info({ total, duplicates, publishRetries }, "server stop during ingestion and consumption");
  assert.equal(received.size, total);
  // A redelivery can only be of a message whose ack the stopped server swallowed: at most
  // what the consumers had pulled and not yet acknowledged.
  assert.ok(duplicates <= 12 * 50, `${duplicates} duplicates`);
});

test("partition ownership rides out a server stop: no double owner, everything owned again", { timeout: 60_000 }, async () => {
  // The stopped server from the previous test comes back first; then members connect
  // each to a different server, and the partition-lock bucket's leader is stopped.
  for (const s of cluster.servers) await s.start();
  const exclusivity = new ExclusivityLog();
  const members: { id: string; nc: NatsConnection; ownership: Ownership; events: OwnershipEvent[] }[] = [];
  const checker = setInterval(() => exclusivity.check(), 2);
  try {
    for (let i = 0; i < 3; i++) {
      const id = `m${i + 1}`;
      const servers = [...cluster.urls.slice(i), ...cluster.urls.slice(0, i)];
      const mnc = await connect({ servers, noRandomize: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const events: OwnershipEvent[] = [];
      const ownership = await startOwnership(mnc, { ...config, nodeId: id }, logger, {
        onChange: modelNode({ starting: (set) => exclusivity.starting(id, set), settled: (set) => exclusivity.settled(id, set) }, 50),
        onEvent: (e) => events.push(e),
      });
      members.push({ id, nc: mnc, ownership, events });
    }
    const balanced = () => {
      const ids = members.map((m) => m.id);
      return members.every((m) => JSON.stringify(m.ownership.owned()) === JSON.stringify(partitionsFor(m.id, P, ids))) && exclusivity.covered().size === P ? true : undefined;
    };
    await waitFor("3 members to share the partitions", balanced, 30_000);
    await (await leaderOf(`KV_${KV_BUCKETS.partitions}`)).stop();
    await sleep(3000);
    await waitFor("ownership to settle with 2 servers", balanced, 30_000);
    const fences = members.flatMap((m) => m.events.filter((e) => e.type === "fenced"));
    logger.info({ fences: fences.length }, "fences during a server stop");
    assert.deepEqual(exclusivity.violations, []);
  } finally {
    clearInterval(checker);
    for (const m of members) {
      await m.ownership.stop().catch(() => undefined);
      await m.nc.close();
    }
  }
});
