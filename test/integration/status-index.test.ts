import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, DiscardPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type { FastifyInstance } from "fastify";
import {
  eventId,
  KV_BUCKETS,
  loadConfig,
  newId,
  recipientId,
  type EventTypeName,
  type MailEvent,
  type MessageStatusAnswer,
} from "../../protocol/index.ts";
import {
  ensureTopology,
  publishEvent,
  topologyFor,
  topologyOptionsFrom,
  readBatchCounts,
} from "../../protocol/io/index.ts";
import { Kvm } from "@nats-io/kv";
import { startStatusIndexer, type StatusIndexer } from "../../actors/status-indexer.ts";
import { statusRoutes } from "../../gateway/routes/status.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";
import { silent, testApp } from "./support/failure.ts";

const config = loadConfig({ SLUICE_PARTITIONS: "2", SLUICE_LOG_LEVEL: "silent", SLUICE_STATUS_MAX_ENTRIES: "1000", SLUICE_STATUS_MAX_BYTES: "10MB" });
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let app: FastifyInstance;
const indexers: StatusIndexer[] = [];
const as = (tenant: string) => ({ "x-test-tenant": tenant, "x-test-scopes": "read" });

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  js = jetstream(nc);
  app = await testApp(nc, config, statusRoutes);
  // Two indexers share the durable consumer, as two nodes would.
  indexers.push(await startStatusIndexer(nc, config, silent), await startStatusIndexer(nc, config, silent));
});

after(async () => {
  for (const i of indexers) await i.close();
  await app?.close();
  await nc?.close();
  await server?.dispose();
});

let clock = Date.now();
function ev(tenant: string, messageId: string, type: EventTypeName, attempt: number, extra: Partial<MailEvent> = {}): MailEvent {
  return { v: 1, id: eventId(messageId, type, attempt), type, tenant, messageId, at: ++clock, attempt, ...extra };
}
async function statusOf(tenant: string, id: string): Promise<{ code: number; body: MessageStatusAnswer }> {
  const res = await app.inject({ method: "GET", url: `/v1/messages/${id}`, headers: as(tenant) });
  return { code: res.statusCode, body: res.json() as MessageStatusAnswer };
}
const until = (what: string, tenant: string, id: string, ok: (a: MessageStatusAnswer) => boolean) =>
  waitFor(what, async () => {
    const s = await statusOf(tenant, id);
    return s.code === 200 && ok(s.body) ? s.body : undefined;
  }, 10_000);

test("one accepted event per request makes every recipient of it queued", async () => {
  const requestId = newId();
  await publishEvent(js, ev("acme", recipientId(requestId, 0), "accepted", 0, { requestId, metadata: { recipients: "3" } }));
  const last = await until("queued", "acme", recipientId(requestId, 2), (a) => a.status === "queued");
  assert.deepEqual(last.events.map((e) => e.type), ["accepted"]);
  assert.equal((await statusOf("acme", recipientId(requestId, 0))).body.status, "queued");
  assert.equal((await statusOf("acme", recipientId(requestId, 3))).code, 404, "no fourth recipient");
  assert.equal((await statusOf("other", recipientId(requestId, 0))).code, 404, "not another tenant's");
  const bad = await app.inject({ method: "GET", url: "/v1/messages/nope", headers: as("acme") });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.field, "id");
});

test("transitions become the status, with the events in order and the reply kept short", async () => {
  const requestId = newId();
  const id = recipientId(requestId, 0);
  await publishEvent(js, ev("acme", id, "accepted", 0, { requestId, metadata: { recipients: "1" } }));
  const reply = { code: 451, enhanced: "4.7.500", text: "Server busy. Please try again later. ".repeat(20) };
  await publishEvent(js, ev("acme", id, "deferred", 1, { mx: "mx1.example.test", reply, category: "throttled", nextAttemptAt: clock + 60_000 }));
  await publishEvent(js, ev("acme", id, "deferred", 2, { mx: "mx1.example.test", reply, category: "throttled" }));
  await publishEvent(js, ev("acme", id, "delivered", 3, { mx: "mx2.example.test", reply: { code: 250, text: "2.0.0 OK" } }));
  const s = await until("delivered", "acme", id, (a) => a.status === "delivered");
  assert.deepEqual(s.events.map((e) => e.type), ["accepted", "deferred", "deferred", "delivered"]);
  assert.equal(s.id, id);
  assert.ok((s.events[1]?.reply?.text.length ?? 0) <= 160, "reply text cut short");
  assert.equal(s.events[1]?.category, "throttled");
  assert.equal(s.events[3]?.mx, "mx2.example.test");
});

test("a bounce that is dead-lettered stays bounced; a poison message is dead_lettered; a suppressed one is suppressed", async () => {
  const bounced = recipientId(newId(), 0);
  await publishEvent(js, ev("acme", bounced, "bounced", 1, { reply: { code: 550, enhanced: "5.1.1", text: "User Unknown" }, category: "unknown_user" }));
  await publishEvent(js, ev("acme", bounced, "dead_lettered", 1, { reason: "bounce" }));
  const b = await until("bounced + dead letter", "acme", bounced, (a) => a.events.length === 2);
  assert.equal(b.status, "bounced");
  assert.deepEqual(b.events.map((e) => e.type), ["bounced", "dead_lettered"]);

  const poison = recipientId(newId(), 0);
  await publishEvent(js, ev("acme", poison, "dead_lettered", 0, { reason: "max_deliveries" }));
  assert.equal((await until("dead_lettered", "acme", poison, () => true)).status, "dead_lettered");

  const suppressed = recipientId(newId(), 0);
  await publishEvent(js, ev("acme", suppressed, "suppressed", 0, { reason: "hard_bounce" }));
  assert.equal((await until("suppressed", "acme", suppressed, () => true)).status, "suppressed");
});

test("at most 10 events per message are kept, none lost to two indexers racing", async () => {
  const id = recipientId(newId(), 0);
  for (let attempt = 1; attempt <= 25; attempt++) await publishEvent(js, ev("acme", id, "deferred", attempt));
  await until("the 25th deferral", "acme", id, (a) => a.events.at(-1)?.attempt === 25);
  // An event that lost its compare-and-set race five times is nak'd and indexed a second
  // later: wait until the shared consumer has nothing pending or unacked (a nak'd message
  // still counts as unacked), not merely for the last event to show.
  const jsm = await jetstreamManager(nc);
  await waitFor("every event indexed", async () => {
    const info = await jsm.consumers.info("MAIL_EVENTS", "status_indexer");
    return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
  });
  const s = await until("the index read", "acme", id, () => true);
  assert.deepEqual(s.events.map((e) => e.attempt), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
});

test("the index is bounded: the least recently updated entries are evicted first", async () => {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${KV_BUCKETS.status}`);
  assert.equal(info.config.max_msgs, 1000);
  assert.equal(info.config.max_bytes, 10 * 1024 * 1024);
  assert.equal(info.config.discard, DiscardPolicy.Old);

  const ids = Array.from({ length: 1100 }, () => recipientId(newId(), 0));
  await Promise.all(ids.map((id) => publishEvent(js, ev("bulkco", id, "delivered", 1))));
  await until("the last one", "bulkco", ids.at(-1) as string, (a) => a.status === "delivered");
  await waitFor("every event indexed", async () => ((await jsm.consumers.info("MAIL_EVENTS", "status_indexer")).num_pending === 0 ? true : undefined));
  const after = await jsm.streams.info(`KV_${KV_BUCKETS.status}`);
  assert.ok(after.state.messages <= 1000, `${after.state.messages} entries`);
  assert.equal((await statusOf("bulkco", ids[0] as string)).code, 404, "the oldest is gone");
});

test("a batch's recipients are counted per status, across indexers and an indexer restart", async () => {
  const batchId = newId();
  const id = (n: number) => recipientId(batchId, n);
  const b = { requestId: batchId, batchId };
  const kv = await new Kvm(nc).open(KV_BUCKETS.batchCounts);
  const counts = () => readBatchCounts(kv, "acme", batchId, 6);
  await publishEvent(js, ev("acme", id(0), "delivered", 1, b));
  await publishEvent(js, ev("acme", id(1), "deferred", 1, b));
  await publishEvent(js, ev("acme", id(2), "deferred", 1, b));
  await waitFor("three counted", async () => ((await counts()).deferred === 2 ? true : undefined), 10_000);
  assert.deepEqual(await counts(), { queued: 3, deferred: 2, delivered: 1, bounced: 0, failed: 0, suppressed: 0, dead_lettered: 0, scheduled: 0, cancelled: 0, expired: 0, held: 0 });

  // One indexer goes away and a new one starts: the totals it wrote stay and are summed.
  await indexers.shift()?.close();
  indexers.push(await startStatusIndexer(nc, config, silent));
  await publishEvent(js, ev("acme", id(1), "delivered", 2, b));
  await publishEvent(js, ev("acme", id(3), "bounced", 1, b));
  await publishEvent(js, ev("acme", id(3), "dead_lettered", 1, b));
  await publishEvent(js, ev("acme", id(4), "suppressed", 0, b));
  await publishEvent(js, ev("acme", id(0), "delivered", 2, b)); // delivered again: no move, no count
  const want = { queued: 1, deferred: 1, delivered: 2, bounced: 1, failed: 0, suppressed: 1, dead_lettered: 0, scheduled: 0, cancelled: 0, expired: 0, held: 0 };
  await waitFor("the rest counted", async () => (JSON.stringify(await counts()) === JSON.stringify(want) ? true : undefined), 10_000).catch(async () => {
    assert.deepEqual(await counts(), want);
  });
  assert.deepEqual(await counts(), want);
  assert.deepEqual(await readBatchCounts(kv, "globex", batchId, 6), { ...want, queued: 6, deferred: 0, delivered: 0, bounced: 0, suppressed: 0 }, "another tenant's batch of the same id counts nothing");
});
