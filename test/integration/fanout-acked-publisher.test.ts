import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { DiscardPolicy, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { AckedPublisher } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let publisher: AckedPublisher;

before(async () => {
  server = await startNatsServer("fanout-window");
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "WIN", subjects: ["win.>"], max_msgs: 30, discard: DiscardPolicy.New });
  publisher = new AckedPublisher(nc);
});

after(async () => {
  publisher?.close();
  await nc?.close();
  await server?.dispose();
});

const window = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ subject: `win.${(from + i) % 3}`, data: new TextEncoder().encode(`m${from + i}`), msgID: `id-${from + i}` }));
const stored = async () => (await jsm.streams.info("WIN")).state.messages;

test("a window resolves once JetStream stored every message; the same window again stores nothing (msgID)", async () => {
  await publisher.publish(window(0, 20), 5000);
  assert.equal(await stored(), 20);
  await publisher.publish(window(0, 20), 5000);
  assert.equal(await stored(), 20, "repeats are de-duplicated by Nats-Msg-Id");
  const m = await jsm.streams.getMessage("WIN", { seq: 1 });
  assert.equal(m?.header.get("Nats-Msg-Id"), "id-0");
});

test("a window fails when a message is refused (stream full) or nothing stores its subject", async () => {
  await assert.rejects(publisher.publish(window(100, 20), 5000), /JetStream refused the write/);
  assert.equal(await stored(), 30, "only what fitted was stored");
  await assert.rejects(publisher.publish([{ subject: "nowhere.x", data: new Uint8Array(1), msgID: "n-1" }], 5000), /no responders/);
});

test("an empty window resolves at once", async () => {
  await publisher.publish([], 10);
});
