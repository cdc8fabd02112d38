import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import {
  decode,
  DeliveryMessage,
  encode,
  loadConfig,
  newId,
  partitionOf,
  recipientId,
  sendConsumerName,
  STREAMS,
  subjects,
  KV_BUCKETS,
  OBJECT_STORES,
} from "../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";

let server: NatsServer;
let nc: NatsConnection;
const config = loadConfig({ SLUICE_PARTITIONS: "4", SLUICE_RETRY_SCHEDULE: "1s,2s", SLUICE_MAX_AGE: "10s" });
const topology = topologyFor(topologyOptionsFrom(config));

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});

after(async () => {
  await nc?.close();
  await server?.dispose();
});

test("ensureTopology is idempotent, also when several processes run it at once", async () => {
  const other = await connect({ servers: server.url });
  try {
    await Promise.all([ensureTopology(nc, topology), ensureTopology(other, topology)]);
    await ensureTopology(nc, topology);
  } finally {
    await other.close();
  }
  const jsm = await jetstreamManager(nc);
  const streams = (await jsm.streams.names().next()).sort();
  for (const s of Object.values(STREAMS)) assert.ok(streams.includes(s), `stream ${s}`);
  for (const b of Object.values(KV_BUCKETS)) assert.ok(streams.includes(`KV_${b}`), `kv ${b}`);
  assert.ok(streams.includes(`OBJ_${OBJECT_STORES.payloads}`));
  const consumers = await jsm.consumers.list(STREAMS.send).next();
  assert.equal(consumers.length, 3 * 4);
});

test("a changed setting is applied to the existing stream", async () => {
  const changed = topologyFor({ ...topologyOptionsFrom(config), eventsMaxAgeMs: 3_600_000 });
  await ensureTopology(nc, changed);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(STREAMS.events);
  assert.equal(info.config.max_age, 3_600_000 * 1_000_000);
});

test("a different partition count is refused with a clear error", async () => {
  const other = topologyFor({ ...topologyOptionsFrom(config), partitions: 8 });
  await assert.rejects(ensureTopology(nc, other), /partition count is fixed.*SLUICE_PARTITIONS/s);
});

test("a delivery message published with protocol/ is read back validated", async () => {
  await ensureTopology(nc, topology);
  const js = jetstream(nc);
  const requestId = newId();
  const message = {
    v: 1,
    id: recipientId(requestId, 0),
    requestId,
    tenant: "acme",
    tier: "critical",
    mailFrom: "news@acme.test",
    rcptTo: "ann@example.com",
    payload: { inline: { from: "news@acme.test", subject: "Hello", text: "Hi" } },
    createdAt: Date.now(),
  } as const;
  const partition = partitionOf("example.com", config.partitions);
  const subject = subjects.send("critical", partition);
  const ack = await js.publish(subject, encode(message), { msgID: message.id });
  assert.equal(ack.stream, STREAMS.send);
  // The same msgID again is de-duplicated by JetStream: that is what makes retries safe.
  const again = await js.publish(subject, encode(message), { msgID: message.id });
  assert.equal(again.duplicate, true);

  const consumer = await js.consumers.get(STREAMS.send, sendConsumerName("critical", partition));
  const msg = await consumer.next({ expires: 5000 });
  assert.ok(msg, "message delivered to its (tier, partition) consumer");
  const decoded = decode(DeliveryMessage, msg.data, "delivery message");
  assert.ok(decoded.ok);
  assert.equal(decoded.value.id, message.id);
  assert.equal(decoded.value.rcptTo, "ann@example.com");
  msg.ack();
});

test("a malformed message on the stream is rejected with a clear error", async () => {
  const js = jetstream(nc);
  const subject = subjects.send("bulk", 1);
  await js.publish(subject, encode({ v: 1, id: "nope", tenant: "Bad Tenant!" }));
  await js.publish(subject, new TextEncoder().encode("not json"));
  const consumer = await js.consumers.get(STREAMS.send, sendConsumerName("bulk", 1));
  const first = await consumer.next({ expires: 5000 });
  const second = await consumer.next({ expires: 5000 });
  assert.ok(first && second);
  const a = decode(DeliveryMessage, first.data, "delivery message");
  const b = decode(DeliveryMessage, second.data, "delivery message");
  assert.ok(!a.ok && !b.ok);
  assert.equal(a.error.kind, "validation");
  assert.match(a.error.message, /^delivery message: \w+/);
  assert.equal(b.error.code, "invalid_json");
  first.ack();
  second.ack();
});

test("the harness server is really gone after dispose", async () => {
  const s = await startNatsServer("disposable");
  const dir = s.storeDir;
  assert.ok(existsSync(dir));
  await s.dispose();
  assert.ok(!existsSync(dir));
  await assert.rejects(connect({ servers: s.url, reconnect: false, timeout: 500 }));
});
