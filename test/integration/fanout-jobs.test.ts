import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { pino } from "pino";
import { startFanout, type Fanout } from "../../actors/fanout/index.ts";
import { Objm } from "@nats-io/obj";
import {
  BatchProgress,
  buildBatchJob,
  decode,
  encode,
  KV_BUCKETS,
  loadConfig,
  newId,
  OBJECT_STORES,
  parseBatchRequest,
  payloadOfBatch,
  STREAMS,
  subjects,
} from "../../protocol/index.ts";
import {
  createProducer,
  ensureTopology,
  storePayload,
  storePayloadBytes,
  topologyFor,
  topologyOptionsFrom,
} from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let batches: KV;
let fanout: Fanout;

before(async () => {
  server = await startNatsServer("fanout-jobs");
  nc = await connect({ servers: server.url });
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: "4" });
  const topology = topologyFor(topologyOptionsFrom(config));
  await ensureTopology(nc, { ...topology, consumers: topology.consumers.filter((c) => c.stream !== STREAMS.send) });
  jsm = await jetstreamManager(nc);
  batches = await new Kvm(nc).open(KV_BUCKETS.batches);
  fanout = startFanout(nc, { partitions: 4 }, pino({ level: "silent" }));
});
after(async () => {
  await fanout?.close();
  await nc?.close();
  await server?.dispose();
});

const progressOf = async (id: string) => {
  const e = await batches.get(id);
  const d = e ? decode(BatchProgress, e.value, "p") : undefined;
  return d?.ok ? d.value : undefined;
};

test("a malformed job or one whose recipient list is missing is dropped, and the next job still runs", async () => {
  const js = jetstream(nc);
  await js.publish(subjects.jobs, new TextEncoder().encode("not json"));
  const ghost = newId();
  await js.publish(
    subjects.jobs,
    encode({ v: 1, batchId: ghost, tenant: "acme", tier: "bulk", mailFrom: "a@acme.test", payload: { ref: `sha256-${"0".repeat(64)}`, size: 1 }, recipients: { ref: `sha256-${"1".repeat(64)}`, count: 2 }, createdAt: Date.now() }),
  );
  const producer = await createProducer(nc, { tenant: "acme", partitions: 4 });
  const { batchId } = await producer.sendBatch({ from: "a@acme.test", subject: "s", text: "t", recipients: [{ to: "x@example.com" }, { to: "y@example.com" }, { to: "z@example.org" }] });
  const done = await waitFor("the good batch", async () => ((await progressOf(batchId))?.state === "expanded" ? true : undefined));
  assert.ok(done);
  assert.equal((await jsm.streams.info(STREAMS.send)).state.messages, 3);
  assert.equal((await jsm.streams.info(STREAMS.jobs)).state.messages, 0, "bad jobs were terminated, not left to block the queue");
  assert.equal((await progressOf(ghost))?.expanded ?? 0, 0);
});

test("a job replayed after it completed adds no messages; a job without a progress record gets one", async () => {
  const os = await new Objm(nc).open(OBJECT_STORES.payloads);
  const parsed = parseBatchRequest({ from: "a@acme.test", subject: "s", text: "t", recipients: [{ to: "r1@example.com" }, { to: "r2@example.com" }] });
  assert.ok(parsed.ok);
  const payload = await storePayload(os, payloadOfBatch(parsed.value));
  const list = await storePayloadBytes(os, Buffer.from(JSON.stringify(parsed.value.recipients)));
  const batchId = newId();
  const job = encode(buildBatchJob(parsed.value, payload, list.ref, { batchId, tenant: "acme", requestId: batchId, now: Date.now() }));
  const before = (await jsm.streams.info(STREAMS.send)).state.messages;
  const js = jetstream(nc);
  await js.publish(subjects.jobs, job);
  await waitFor("expansion", async () => ((await progressOf(batchId))?.state === "expanded" ? true : undefined));
  await js.publish(subjects.jobs, job);
  await waitFor("the replayed job to be consumed", async () => ((await jsm.streams.info(STREAMS.jobs)).state.messages === 0 ? true : undefined));
  assert.equal((await jsm.streams.info(STREAMS.send)).state.messages, before + 2);
  assert.equal((await progressOf(batchId))?.tenant, "acme", "a job without a progress record (direct producer) gets one");
});
