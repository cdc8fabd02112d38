import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { pino } from "pino";
import { startFanout, FANOUT_CONSUMER } from "../../actors/fanout/index.ts";
import {
  BatchProgress,
  decode,
  DeliveryMessage,
  KV_BUCKETS,
  loadConfig,
  STREAMS,
} from "../../protocol/index.ts";
import { createProducer, ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

const PARTITIONS = 4;
const N = 100_000;
let server: NatsServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
let batches: KV;
const children: ChildProcess[] = [];

before(async () => {
  server = await startNatsServer("fanout-test");
  nc = await connect({ servers: server.url });
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: String(PARTITIONS) });
  const topology = topologyFor(topologyOptionsFrom(config));
  // No MAIL_SEND consumers: the test reads the whole stream itself.
  await ensureTopology(nc, { ...topology, consumers: topology.consumers.filter((c) => c.stream !== STREAMS.send) });
  jsm = await jetstreamManager(nc);
  // A killed worker's job comes back after ack_wait: 3 s instead of 60 s keeps the test short.
  await jsm.consumers.update(STREAMS.jobs, FANOUT_CONSUMER, { ack_wait: nanos(3000) });
  batches = await new Kvm(nc).open(KV_BUCKETS.batches);
});

after(async () => {
  for (const c of children) c.kill("SIGKILL");
  await nc?.close();
  await server?.dispose();
});

async function progressOf(batchId: string): Promise<BatchProgress | undefined> {
  const e = await batches.get(batchId);
  if (e === null) return undefined;
  const d = decode(BatchProgress, e.value, "progress");
  return d.ok ? d.value : undefined;
}

function spawnWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/integration/fanout-worker.ts", server.url, String(PARTITIONS)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`worker exited early (${code})`)));
  });
}

/** Read every message on MAIL_SEND once; returns how often each recipient id appears. */
async function drainSend(): Promise<Map<string, number>> {
  await jsm.consumers.add(STREAMS.send, { durable_name: "checker", ack_policy: AckPolicy.Explicit, max_ack_pending: 20_000 });
  const consumer = await jetstream(nc).consumers.get(STREAMS.send, "checker");
  const seen = new Map<string, number>();
  const total = (await jsm.streams.info(STREAMS.send)).state.messages;
  const iter = await consumer.consume({ max_messages: 5000 });
  let read = 0;
  for await (const m of iter) {
    const d = decode(DeliveryMessage, m.data, "delivery");
    assert.ok(d.ok, d.ok ? "" : d.error.message);
    seen.set(d.value.id, (seen.get(d.value.id) ?? 0) + 1);
    m.ack();
    if (++read >= total) break;
  }
  await iter.close();
  await jsm.consumers.delete(STREAMS.send, "checker");
  return seen;
}

test(`a batch of ${N.toLocaleString("en")} recipients is expanded exactly once although its fan-out process is killed -9 halfway`, async () => {
  const producer = await createProducer(nc, { tenant: "acme", partitions: PARTITIONS });
  const recipients = Array.from({ length: N }, (_, i) => ({ to: `user${i}@domain${i % 50}.example`, vars: { name: `User ${i}` } }));
  const { batchId, accepted } = await producer.sendBatch({ from: "news@acme.test", subject: "Hi {{name}}", text: "Hello {{name}}", recipients });
  assert.equal(accepted, N);

  const first = await spawnWorker();
  const atKill = await waitFor("the first worker to be part-way", async () => {
    const p = await progressOf(batchId);
    return p !== undefined && p.expanded >= N * 0.3 ? p.expanded : undefined;
  }, 60_000, 20);
  first.kill("SIGKILL");
  await new Promise((r) => first.once("exit", r));
  assert.ok(atKill < N, `killed before the end (checkpoint ${atKill})`);
  const storedAtKill = (await jsm.streams.info(STREAMS.send)).state.messages;
  assert.ok(storedAtKill < N, `the crash left the batch unfinished (${storedAtKill} stored)`);

  // A new actor (in this process) picks the job up once ack_wait lets it go, from the checkpoint.
  const fanout = startFanout(nc, { partitions: PARTITIONS }, pino({ level: "warn" }));
  try {
    const done = await waitFor("the batch to be expanded", async () => {
      const p = await progressOf(batchId);
      return p?.state === "expanded" ? p : undefined;
    }, 60_000, 100);
    assert.equal(done.expanded, N);
  } finally {
    await fanout.close();
  }
  const info = await jsm.streams.info(STREAMS.send);
  assert.equal(info.state.messages, N, "exactly N messages on MAIL_SEND");
  const seen = await drainSend();
  assert.equal(seen.size, N);
  for (let i = 0; i < N; i++) assert.equal(seen.get(`${batchId}-${i}`), 1, `recipient ${i} exactly once`);
  const jobs = await jsm.streams.info(STREAMS.jobs);
  assert.equal(jobs.state.messages, 0, "the job was acknowledged");
});
