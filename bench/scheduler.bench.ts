// Scheduled mail: how fast the gateway path accepts scheduled messages, and how fast the
// scheduler leader releases them onto MAIL_SEND when they all come due in the same second
// (N single-recipient requests), and a batch of M recipients due at once (fan-out holds it first).
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { loadConfig, STREAMS } from "../protocol/index.ts";
import { createProducer, ensureTopology, topologyFor, topologyOptionsFrom } from "../protocol/io/index.ts";
import { startScheduler } from "../actors/scheduler/index.ts";
import { startFanout } from "../actors/fanout/index.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";

const N = Number(process.env.N ?? 2000);
const M = Number(process.env.M ?? 20_000);
const server = await startNatsServer("bench-scheduler");
const nc = await connect({ servers: server.url });
const logger = pino({ level: "silent" });
try {
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: "4", SLUICE_LOG_LEVEL: "silent", SLUICE_LEASE_TTL: "3s" });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const jsm = await jetstreamManager(nc);
  const producer = await createProducer(nc, { tenant: "acme", partitions: config.partitions });
  const due = Date.now() + 60_000; // far enough to accept everything first
  const t0 = performance.now();
  for (let i = 0; i < N; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, j) => producer.send({ from: "a@acme.test", to: `r${i + j}@d${(i + j) % 50}.test`, subject: "s", text: "t", sendAt: due })));
  }
  const acceptSecs = (performance.now() - t0) / 1000;
  console.log(`accepted ${N} scheduled messages in ${acceptSecs.toFixed(2)} s = ${Math.round(N / acceptSecs)}/s (SDK, 100 in flight)`);
  const recipients = Array.from({ length: M }, (_, i) => ({ to: `b${i}@d${i % 50}.test` }));
  await producer.sendBatch({ from: "a@acme.test", subject: "s", text: "t", recipients, sendAt: due });
  const fanout = startFanout(nc, config, logger);
  const sendCount = async () => (await jsm.streams.info(STREAMS.send)).state.messages;
  const heldCount = async () => (await jsm.streams.info(STREAMS.scheduled)).state.messages;
  const tf = performance.now();
  while ((await heldCount()) < N + M + 2) await new Promise((r) => setTimeout(r, 100));
  console.log(`fan-out held the batch of ${M} in ${((performance.now() - tf) / 1000).toFixed(2)} s`);
  const scheduler = await startScheduler(nc, config, logger);
  while (Date.now() < due) await new Promise((r) => setTimeout(r, 50));
  let firstAt = 0;
  for (;;) {
    const n = await sendCount();
    if (n > 0 && firstAt === 0) firstAt = Date.now();
    if (n >= N + M) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const doneAt = Date.now();
  console.log(`released ${N + M} recipients (${N} requests + 1 batch): first ${firstAt - due} ms after sendAt, all ${((doneAt - due) / 1000).toFixed(2)} s after = ${Math.round((N + M) / ((doneAt - due) / 1000))} recipients/s`);
  await scheduler.close();
  await fanout.close();
} finally {
  await nc.close();
  await server.dispose();
}
