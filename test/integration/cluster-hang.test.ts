import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { decode, MailEvent, partitionOf, STREAMS, type DeliveryMessageInput } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { mail, publishAll, receipts, startClusterWorld, waitForOwners, type ClusterWorld } from "./cluster-helpers/world.ts";

/**
 * A destination whose SMTP server accepts the connection and then never answers: the
 * attempt times out (SLUICE_SMTP_TIMEOUT), is deferred and retried, and the healthy
 * domains that share its partition keep flowing meanwhile. When it answers again, its
 * mail goes out on a retry.
 */

const P = 4;
let world: ClusterWorld;
let hanging: string;
let healthy: string[];

before(async () => {
  // Domains of one partition: a hanging one and three healthy neighbours.
  const byPartition: string[] = [];
  for (let i = 0; byPartition.length < 4; i++) if (partitionOf(`d${i}.test`, P) === 0) byPartition.push(`d${i}.test`);
  [hanging, ...healthy] = byPartition as [string, ...string[]];
  world = await startClusterWorld({
    servers: 1,
    env: { SLUICE_PARTITIONS: String(P), SLUICE_SMTP_TIMEOUT: "1500ms", SLUICE_RETRY_SCHEDULE: "1s", SLUICE_RETRY_JITTER: "0", SLUICE_ACK_WAIT: "20s" },
    policy: {
      defaults: { messagesPerSecond: 1000, burst: 1000, maxConnections: 2, maxMessagesPerConnection: 100 },
      domains: { [hanging]: { suspendAfterFailures: 1000, suspendSeconds: 1 } },
    },
  });
  world.peer.setBehaviour(hanging, { hang: true });
}, { timeout: 60_000 });

after(async () => {
  await world?.dispose();
}, { timeout: 60_000 });

async function events(): Promise<MailEvent[]> {
  const info = await (await jetstreamManager(world.nc)).streams.info(STREAMS.events);
  if (info.state.messages === 0) return [];
  const consumer = await world.js.consumers.get(STREAMS.events);
  const out: MailEvent[] = [];
  for await (const m of await consumer.fetch({ max_messages: info.state.messages, expires: 5000 })) {
    const e = decode(MailEvent, m.data, "event");
    if (e.ok) out.push(e.value);
    if (m.info.pending === 0) break;
  }
  return out;
}

test("a hanging SMTP peer times out and is retried while its partition keeps moving", { timeout: 80_000 }, async (t) => {
  world.startNode("node-1");
  await waitForOwners(world, ["node-1"]);
  const all = mail(400, 400).map((m, i) => ({ ...m, rcptTo: i < 4 ? `stuck${i}@${hanging}` : `user${i}@${healthy[i % healthy.length]}` })) as DeliveryMessageInput[];
  const stuckIds = new Set(all.slice(0, 4).map((m) => m.id));
  await publishAll(world.js, P, all);

  // The healthy neighbours are all delivered while the hanging domain has delivered nothing.
  await waitFor("the healthy domains of the same partition to be delivered", () => (receipts(world.peer).size >= 396 ? true : undefined), 40_000, 100);
  assert.equal(world.peer.messagesFor(hanging).length, 0);

  // The hanging attempts ended in timeouts and were deferred, more than once.
  const deferred = await waitFor("stuck messages to be deferred and retried", async () => {
    const list = (await events()).filter((e) => e.type === "deferred" && stuckIds.has(e.messageId));
    return list.some((e) => (e.attempt ?? 0) >= 2) ? list : undefined;
  }, 30_000, 500);
  t.diagnostic(JSON.stringify(deferred.slice(0, 2).map((e) => ({ attempt: e.attempt, category: e.category, reason: e.reason }))));

  // The peer answers again: the next retry delivers.
  world.peer.setBehaviour(hanging, {});
  await waitFor("the stuck messages to be delivered on a retry", () => (world.peer.messagesFor(hanging).length >= 4 ? true : undefined), 30_000, 100);
  const delivered = (await events()).filter((e) => e.type === "delivered" && stuckIds.has(e.messageId));
  assert.ok(delivered.every((e) => (e.attempt ?? 0) >= 2), "delivered on a later attempt");
});
