import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { FastifyInstance } from "fastify";
import {
  decode,
  DeliveryMessage,
  encode,
  loadConfig,
  MailEvent,
  partitionOf,
  sendConsumerName,
  STREAMS,
  subjects,
  type DeadLetter,
} from "../../protocol/index.ts";
import {
  ensureTopology,
  getDeadLetter,
  listDeadLetters,
  publishDeadLetter,
  topologyFor,
  topologyOptionsFrom,
  type DlqDeps,
} from "../../protocol/io/index.ts";
import { startDeadLetterer } from "../../actors/dead-letterer.ts";
import { dlqRoutes } from "../../gateway/routes/dlq.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";
import { deliveryMessage, silent, testApp } from "./support/failure.ts";

// 1s schedule over a 2s max age: the send consumers allow max_deliver = 3 + 10 deliveries.
const config = loadConfig({ SLUICE_PARTITIONS: "2", SLUICE_RETRY_SCHEDULE: "1s", SLUICE_MAX_AGE: "2s", SLUICE_LOG_LEVEL: "silent" });
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let deps: DlqDeps;
let app: FastifyInstance;
let stopDeadLetterer: () => Promise<void>;

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  deps = { js, jsm, partitions: config.partitions };
  const dl = await startDeadLetterer(nc, config, silent);
  stopDeadLetterer = dl.close;
  app = await testApp(nc, config, dlqRoutes);
});

after(async () => {
  await app?.close();
  await stopDeadLetterer?.();
  await nc?.close();
  await server?.dispose();
});

const sendSubjectOf = (m: DeliveryMessage) => subjects.send(m.tier, partitionOf(m.rcptTo.split("@")[1] as string, config.partitions));
const consumerOf = (m: DeliveryMessage) => sendConsumerName(m.tier, partitionOf(m.rcptTo.split("@")[1] as string, config.partitions));

async function eventsOf(tenant: string, messageId: string): Promise<MailEvent[]> {
  const c = await js.consumers.get(STREAMS.events, { filter_subjects: subjects.eventsOf(tenant), deliver_policy: DeliverPolicy.All });
  const out: MailEvent[] = [];
  const info = await jsm.streams.info(STREAMS.events);
  if (info.state.messages === 0) return out;
  const iter = await c.fetch({ max_messages: 1000, expires: 1000 });
  for await (const m of iter) {
    const e = decode(MailEvent, m.data, "event");
    if (e.ok && e.value.messageId === messageId) out.push(e.value);
    if (m.info.pending === 0) break;
  }
  return out;
}

function deadLetterOf(tenant: string, rcptTo: string, code = "bounced"): DeadLetter {
  const message = deliveryMessage(tenant, rcptTo, {
    attempts: [{ at: Date.now(), mx: "mx.example.test", code: 550, enhanced: "5.1.1", text: "User Unknown", outcome: "bounce", category: "unknown_user" }],
  });
  return { v: 1, id: message.id, tenant, at: Date.now(), reason: { code, message: "550 5.1.1 User Unknown", category: "unknown_user" }, message, attempts: message.attempts };
}

test("a poison message that is never settled reaches the DLQ through the max-deliveries advisory", async () => {
  const message = deliveryMessage("acme", "ann@poison.test");
  await js.publish(sendSubjectOf(message), encode(message), { msgID: message.id });
  const consumer = await js.consumers.get(STREAMS.send, consumerOf(message));
  const info = await consumer.info();
  // A worker that crashes on this message: it never acks, JetStream redelivers until max_deliver.
  let deliveries = 0;
  for (;;) {
    const m = await consumer.next({ expires: 1500 });
    if (m === null) break;
    deliveries++;
    m.nak();
  }
  assert.equal(deliveries, info.config.max_deliver);

  const stored = await waitFor("the dead letter", () => getDeadLetter(deps, "acme", message.id), 15_000);
  assert.equal(stored.deadLetter?.reason.code, "max_deliveries");
  assert.equal(stored.deadLetter?.message.rcptTo, "ann@poison.test");
  assert.equal(stored.deadLetter?.tenant, "acme");

  const events = await waitFor("the dead_lettered event", async () => {
    const e = await eventsOf("acme", message.id);
    return e.some((x) => x.type === "dead_lettered") ? e : undefined;
  });
  assert.equal(events.filter((e) => e.type === "dead_lettered").length, 1);
  // It left MAIL_SEND: nothing more for the consumer, and the stream no longer holds it.
  await waitFor("MAIL_SEND to be empty", async () => ((await jsm.streams.info(STREAMS.send)).state.messages === 0 ? true : undefined));
});

test("DLQ admin lists a tenant's dead letters only, and reads one by id", async () => {
  const a1 = deadLetterOf("listco", "a1@example.test");
  const a2 = deadLetterOf("listco", "a2@example.test");
  const other = deadLetterOf("otherco", "b@example.test");
  for (const dl of [a1, other, a2]) await publishDeadLetter(js, dl);

  const page = await listDeadLetters(deps, "listco");
  assert.deepEqual(page.deadLetters.map((s) => s.view.id), [a1.id, a2.id]);
  assert.equal(page.next, undefined);
  const first = await listDeadLetters(deps, "listco", { limit: 1 });
  assert.deepEqual(first.deadLetters.map((s) => s.view.id), [a1.id]);
  const second = await listDeadLetters(deps, "listco", { limit: 1, after: first.next });
  assert.deepEqual(second.deadLetters.map((s) => s.view.id), [a2.id]);

  const res = await app.inject({ method: "GET", url: "/v1/dlq", headers: { "x-test-tenant": "listco" } });
  assert.equal(res.statusCode, 200);
  assert.deepEqual((res.json() as { deadLetters: DeadLetter[] }).deadLetters.map((d) => d.id), [a1.id, a2.id]);
  const one = await app.inject({ method: "GET", url: `/v1/dlq/${a2.id}`, headers: { "x-test-tenant": "listco" } });
  assert.equal(one.statusCode, 200);
  assert.equal((one.json() as DeadLetter).message.rcptTo, "a2@example.test");
  // Another tenant's id is not found, not leaked.
  const leak = await app.inject({ method: "GET", url: `/v1/dlq/${other.id}`, headers: { "x-test-tenant": "listco" } });
  assert.equal(leak.statusCode, 404);
  assert.equal((leak.json() as { error: { code: string } }).error.code, "not_found");
});

test("replay puts the message back on MAIL_SEND as new and removes the dead letter", async () => {
  const dl = deadLetterOf("replayco", "carol@replay.test");
  await publishDeadLetter(js, dl);
  const before = Date.now();
  const res = await app.inject({ method: "POST", url: `/v1/dlq/${dl.id}/replay`, headers: { "x-test-tenant": "replayco" } });
  assert.equal(res.statusCode, 202, res.body);
  assert.deepEqual(res.json(), { id: dl.id, status: "queued" });

  const consumer = await js.consumers.get(STREAMS.send, consumerOf(dl.message));
  const m = await consumer.next({ expires: 5000 });
  assert.ok(m, "replayed message on its (tier, partition) consumer");
  const replayed = decode(DeliveryMessage, m.data, "delivery message");
  assert.ok(replayed.ok);
  m.ack();
  assert.equal(replayed.value.id, dl.id);
  assert.equal(replayed.value.rcptTo, "carol@replay.test");
  assert.deepEqual(replayed.value.attempts, []);
  assert.ok(replayed.value.createdAt >= before, "fresh createdAt: a full retry window again");

  assert.equal(await getDeadLetter(deps, "replayco", dl.id), undefined);
  const again = await app.inject({ method: "POST", url: `/v1/dlq/${dl.id}/replay`, headers: { "x-test-tenant": "replayco" } });
  assert.equal(again.statusCode, 404);
  const events = await eventsOf("replayco", dl.id);
  assert.ok(events.some((e) => e.type === "queued"), "a queued event says it is back in the queue");
});

test("delete removes a dead letter; bad ids and missing auth get clear errors", async () => {
  const dl = deadLetterOf("delco", "dan@example.test");
  await publishDeadLetter(js, dl);
  const readOnly = await app.inject({ method: "DELETE", url: `/v1/dlq/${dl.id}`, headers: { "x-test-tenant": "delco", "x-test-scopes": "read" } });
  assert.equal(readOnly.statusCode, 403);
  const res = await app.inject({ method: "DELETE", url: `/v1/dlq/${dl.id}`, headers: { "x-test-tenant": "delco" } });
  assert.equal(res.statusCode, 204);
  assert.equal(await getDeadLetter(deps, "delco", dl.id), undefined);
  const gone = await app.inject({ method: "DELETE", url: `/v1/dlq/${dl.id}`, headers: { "x-test-tenant": "delco" } });
  assert.equal(gone.statusCode, 404);

  const bad = await app.inject({ method: "GET", url: "/v1/dlq/nope.*", headers: { "x-test-tenant": "delco" } });
  assert.equal(bad.statusCode, 400);
  assert.deepEqual(bad.json(), { error: { code: "invalid_id", message: '"nope.*" is not a recipient id', field: "id" } });
  const badLimit = await app.inject({ method: "GET", url: "/v1/dlq?limit=0", headers: { "x-test-tenant": "delco" } });
  assert.equal(badLimit.statusCode, 400);
  assert.equal((badLimit.json() as { error: { field: string } }).error.field, "limit");
  const anon = await app.inject({ method: "GET", url: "/v1/dlq" });
  assert.equal(anon.statusCode, 401);
});
