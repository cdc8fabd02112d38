/**
 * The fan-out actor alone, in this process, on one batch: how fast it expands N recipients
 * and its CPU per message (also a target for --cpu-prof). Starts its own nats-server.
 * Run: node --import tsx bench/fanout-solo.ts [recipients=100000]
 */
import { loadavg } from "node:os";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startFanout } from "../actors/fanout/index.ts";
import {
  BatchProgress,
  decode,
  KV_BUCKETS,
  loadConfig,
  STREAMS,
} from "../protocol/index.ts";
import { createProducer, ensureTopology, topologyFor, topologyOptionsFrom } from "../protocol/io/index.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";

const N = Number(process.argv[2] ?? 100_000);
const PARTITIONS = 32;
const server = await startNatsServer("bench-fanout-solo");
try {
  const nc = await connect({ servers: server.url });
  const topology = topologyFor(topologyOptionsFrom(loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: String(PARTITIONS) })));
  await ensureTopology(nc, { ...topology, consumers: topology.consumers.filter((c) => c.stream !== STREAMS.send) });
  const producer = await createProducer(nc, { tenant: "bench", partitions: PARTITIONS });
  const recipients = Array.from({ length: N }, (_, i) => ({ to: `u${i}@example${i % 100}.com`, vars: { name: `User ${i}` } }));
  const { batchId } = await producer.sendBatch({ from: "news@bench.test", subject: "Hi {{name}}", html: "<p>Hi {{name}}</p>", recipients });
  const batches = await new Kvm(nc).open(KV_BUCKETS.batches);
  const fnc = await connect({ servers: server.url });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const fanout = startFanout(fnc, { partitions: PARTITIONS }, pino({ level: "warn" }));
  for (;;) {
    const e = await batches.get(batchId);
    const p = e ? decode(BatchProgress, e.value, "progress") : undefined;
    if (p?.ok && p.value.state === "expanded") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const stored = (await (await jetstreamManager(nc)).streams.info(STREAMS.send)).state.messages;
  console.log(`fan-out of ${N.toLocaleString("en")}: ${Math.round(N / s).toLocaleString("en")} msg/s, ${((cpu.user + cpu.system) / N).toFixed(1)} µs CPU/message (this process), ${stored} on MAIL_SEND; load ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  await fanout.close();
  await fnc.close();
  await nc.close();
} finally {
  await server.dispose();
}
