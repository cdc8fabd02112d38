/**
 * Ingestion benchmark (issue 3): the HTTP gateway against a real nats-server on this machine.
 *   1. raw JetStream publish rate of the same client library (the ceiling)
 *   2. single messages: max requests/s (closed loop, many connections)
 *   3. single messages: latency at a fixed 1,000 requests/s (open loop, from the intended send time)
 *   4. batches: recipients accepted per minute, sustained, with the gateway's peak RSS
 *   5. fan-out: per-recipient messages expanded onto MAIL_SEND per second
 * Run: node --import tsx bench/ingest.bench.ts   (BENCH_BATCH_SECONDS=60 BENCH_BATCH_SIZE=20000)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Pool } from "undici";
import {
  encode,
  KV_BUCKETS,
  loadConfig,
  newId,
  partitionOf,
  recipientId,
  STREAMS,
  subjects,
} from "../protocol/index.ts";
import {
  AckedPublisher,
  createApiKey,
  ensureTopology,
  topologyFor,
  topologyOptionsFrom,
} from "../protocol/io/index.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";

const env = process.env;
const RAW_S = Number(env.BENCH_RAW_SECONDS ?? 10);
const MAX_S = Number(env.BENCH_MAX_SECONDS ?? 15);
const LAT_S = Number(env.BENCH_LATENCY_SECONDS ?? 20);
const LAT_RATE = Number(env.BENCH_LATENCY_RATE ?? 1000);
const BATCH_S = Number(env.BENCH_BATCH_SECONDS ?? 60);
const BATCH_SIZE = Number(env.BENCH_BATCH_SIZE ?? 20_000);
const FANOUT_S = Number(env.BENCH_FANOUT_SECONDS ?? 30);
const PARTITIONS = 32;
/** The bench key's own rate (requests/s, cluster-wide; unset = none): to see what the shared rate counter costs a request. */
const KEY_RATE = env.BENCH_KEY_RATE === undefined ? undefined : Number(env.BENCH_KEY_RATE);
/** Which phases to run (comma list of raw,max,latency,batch,fanout); all by default. Fan-out needs batch's jobs. */
const PHASES = new Set((env.BENCH_PHASES ?? "raw,max,latency,batch,fanout").split(",").map((s) => s.trim()));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The process and its children (BENCH_GATEWAY_PROCESSES > 1: the cluster's workers). */
const family = (pid: number): number[] => {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    return [pid, ...kids];
  } catch {
    return [pid];
  }
};
const rssMb = (pid: number): number =>
  family(pid).reduce((sum, p) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      return sum + (m ? Number(m[1]) / 1024 : 0);
    } catch {
      return sum;
    }
  }, 0);
/** CPU seconds (user + system) a process (and its children) has used so far. */
const cpuS = (pid: number): number =>
  family(pid).reduce((sum, p) => {
    try {
      const f = readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return sum + (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return sum;
    }
  }, 0);
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const fmt = (n: number) => Math.round(n).toLocaleString("en");

const loadAtStart = loadavg().map((l) => +l.toFixed(2));
const server = await startNatsServer("bench-ingest");
const children: ChildProcess[] = [];
const results: Record<string, unknown> = {};
try {
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: String(PARTITIONS) });
  const nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const { key } = await createApiKey(await new Kvm(nc).open(KV_BUCKETS.keys), { tenant: "bench", scopes: ["send", "read"], rate: KEY_RATE });

  // ---- 1. raw JetStream publish ceiling: same message shape, msgID, 1,000 in flight
  if (PHASES.has("raw")) {
    const requestId = newId();
    const subject = subjects.send("transactional", partitionOf("example.com", PARTITIONS));
    const body = (i: number) =>
      encode({ v: 1, id: recipientId(requestId, i), requestId, tenant: "bench", tier: "transactional", mailFrom: "a@bench.test", rcptTo: `u${i}@example.com`, payload: { inline: { from: { address: "a@bench.test" }, to: [{ address: `u${i}@example.com` }], subject: "Hello", text: "Hi there, this is a benchmark message." } }, createdAt: Date.now(), attempts: [] });
    let sent = 0;
    const end = Date.now() + RAW_S * 1000;
    const worker = async () => {
      while (Date.now() < end) {
        const i = sent++;
        await js.publish(subject, body(i), { msgID: recipientId(requestId, i) });
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 1000 }, worker));
    const rate = sent / ((Date.now() - t0) / 1000);
    results.rawPublishPerSecond = Math.round(rate);
    console.log(`raw JetStream publish (nats.js js.publish, 1000 in flight): ${fmt(rate)} msg/s`);
    await jsm.streams.purge(STREAMS.send);
    // The same messages through AckedPublisher (what the gateway and the fan-out now use):
    // plain publishes with a msgID, acks counted per group of 1,000, 2 groups in flight.
    const publisher = new AckedPublisher(nc);
    let n = 0;
    const end2 = Date.now() + RAW_S * 1000;
    const t1 = Date.now();
    const group = async () => {
      while (Date.now() < end2) {
        const from = n;
        n += 1000;
        await publisher.publish(Array.from({ length: 1000 }, (_, k) => ({ subject, data: body(from + k), msgID: recipientId(requestId, 1_000_000 + from + k) })), 30_000);
      }
    };
    await Promise.all([group(), group()]);
    const rate2 = n / ((Date.now() - t1) / 1000);
    publisher.close();
    results.rawGroupedPublishPerSecond = Math.round(rate2);
    console.log(`raw JetStream publish (nats.js core publish + counted acks, groups of 1,000, 2 in flight): ${fmt(rate2)} msg/s`);
    await jsm.streams.purge(STREAMS.send);
  }

  // ---- gateway in its own process
  const profile = env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${env.BENCH_PROFILE}`] : [];
  const gw = spawn(process.execPath, [...profile, "--import", "tsx", "bench/ingest-gateway.ts"], {
    env: { ...env, NATS_URL: server.url, SLUICE_PARTITIONS: String(PARTITIONS), SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0", SLUICE_LOG_LEVEL: "warn", SLUICE_SECRET_KEY: "bench-secret-key-0000", SLUICE_REQUIRE_VERIFIED_DOMAINS: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(gw);
  const port = await new Promise<number>((resolve, reject) => {
    gw.stdout?.on("data", (d: Buffer) => {
      const m = /port (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    gw.once("exit", () => reject(new Error("gateway exited")));
  });
  const gwPid = gw.pid as number;
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, rssMb(gwPid))), 250);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 });
  const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
  const single = (i: number) => JSON.stringify({ from: "Bench <a@bench.test>", to: `u${i}@example${i % 100}.com`, subject: "Hello", text: "Hi there, this is a benchmark message." });
  const post = async (path: string, body: string): Promise<number> => {
    const res = await pool.request({ path, method: "POST", headers, body });
    await res.body.dump();
    return res.statusCode;
  };

  if (PHASES.has("max") || PHASES.has("latency")) {
    for (let i = 0; i < 2000; i++) await post("/v1/messages", single(i)); // warm-up (JIT, key cache, stores)
    await jsm.streams.purge(STREAMS.send);
  }

  // ---- 2. single messages: max throughput (closed loop, 128 in flight)
  if (PHASES.has("max")) {
    let ok = 0;
    let other = 0;
    let n = 0;
    const end = Date.now() + MAX_S * 1000;
    const t0 = Date.now();
    const cpu0 = cpuS(gwPid);
    await Promise.all(
      Array.from({ length: 128 }, async () => {
        while (Date.now() < end) (await post("/v1/messages", single(n++))) === 202 ? ok++ : other++;
      }),
    );
    const rate = ok / ((Date.now() - t0) / 1000);
    const cpuPerRequestUs = ((cpuS(gwPid) - cpu0) / (ok + other)) * 1e6;
    results.singleMaxPerSecond = Math.round(rate);
    results.singleMaxNon202 = other;
    results.gatewayCpuPerRequestUs = Math.round(cpuPerRequestUs);
    console.log(`single messages, max: ${fmt(rate)} req/s (202s; ${other} other answers), gateway CPU ${fmt(cpuPerRequestUs)} µs/request (→ ${fmt(1e6 / cpuPerRequestUs)} req/s per free core), peak RSS so far ${fmt(peakRss)} MB`);
  }
  await jsm.streams.purge(STREAMS.send);

  // ---- 3. single messages: latency at a fixed rate (open loop, latency from the intended send time)
  if (PHASES.has("latency")) {
    // Let nats-server and the gateway settle after the overload of phase 2 (its backlog and
    // GC would otherwise land in this phase's tail): the target is the steady state.
    if (PHASES.has("max")) await sleep(5000);
    const lat: number[] = [];
    let other = 0;
    const total = LAT_S * LAT_RATE;
    const t0 = performance.now() + 50;
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / LAT_RATE;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      inflight.push(
        post("/v1/messages", single(i)).then((s) => {
          if (s === 202) lat.push(performance.now() - due);
          else other++;
        }),
      );
    }
    await Promise.all(inflight);
    lat.sort((a, b) => a - b);
    results.latency = { rate: LAT_RATE, p50: +pct(lat, 50).toFixed(2), p90: +pct(lat, 90).toFixed(2), p99: +pct(lat, 99).toFixed(2), max: +pct(lat, 100).toFixed(2), non202: other, over20ms: lat.filter((l) => l > 20).length };
    console.log(`single messages at ${LAT_RATE} req/s: p50 ${pct(lat, 50).toFixed(2)} ms, p90 ${pct(lat, 90).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms, max ${pct(lat, 100).toFixed(2)} ms (${other} non-202; ${lat.filter((l) => l > 20).length} of ${lat.length} over 20 ms)`);
  }
  await jsm.streams.purge(STREAMS.send);

  // ---- 4. batches: sustained recipients accepted per minute
  if (PHASES.has("batch")) {
    peakRss = rssMb(gwPid);
    let accepted = 0;
    let batches = 0;
    let other = 0;
    let b = 0;
    const end = Date.now() + BATCH_S * 1000;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (Date.now() < end) {
          const tag = b++;
          const body = JSON.stringify({
            from: "news@bench.test",
            subject: "Hello {{name}}",
            html: "<p>Hi {{name}}, this is batch " + tag + "</p>",
            recipients: Array.from({ length: BATCH_SIZE }, (_, i) => ({ to: `u${i}.b${tag}@example${i % 100}.com`, vars: { name: `User ${i}` } })),
          });
          if ((await post("/v1/batches", body)) === 202) {
            accepted += BATCH_SIZE;
            batches++;
          } else other++;
        }
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    results.batches = { seconds: Math.round(seconds), batchSize: BATCH_SIZE, batches, recipientsPerMinute: Math.round((accepted / seconds) * 60), non202: other, gatewayPeakRssMb: Math.round(peakRss) };
    console.log(`batches of ${fmt(BATCH_SIZE)}: ${fmt((accepted / seconds) * 60)} recipients/min over ${seconds.toFixed(0)} s (${batches} batches, ${other} non-202), gateway peak RSS ${fmt(peakRss)} MB`);
  }
  clearInterval(rssTimer);
  await pool.close();

  // ---- 5. fan-out rate of one actor process, on the jobs the batch phase left
  if (PHASES.has("fanout")) {
    const fo = spawn(process.execPath, [...profile, "--import", "tsx", "bench/ingest-fanout.ts", server.url, String(PARTITIONS)], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(fo);
    await new Promise((r) => fo.stdout?.once("data", r));
    const start = (await jsm.streams.info(STREAMS.send)).state.messages;
    const t0 = Date.now();
    const cpu0 = cpuS(fo.pid as number);
    await sleep(FANOUT_S * 1000);
    const n = (await jsm.streams.info(STREAMS.send)).state.messages - start;
    const rate = n / ((Date.now() - t0) / 1000);
    const cpuPerMessageUs = ((cpuS(fo.pid as number) - cpu0) / Math.max(1, n)) * 1e6;
    results.fanoutPerSecond = Math.round(rate);
    results.fanoutCpuPerMessageUs = Math.round(cpuPerMessageUs);
    console.log(`fan-out (one process): ${fmt(rate)} messages/s onto MAIL_SEND (${fmt(rate * 60)}/min), fan-out CPU ${fmt(cpuPerMessageUs)} µs/message (→ ${fmt(1e6 / cpuPerMessageUs)} msg/s per free core)`);
  }
  const raw = results.rawPublishPerSecond as number | undefined;
  if (raw !== undefined && results.singleMaxPerSecond !== undefined) {
    console.log(`gateway single-message rate / raw publish rate: ${((results.singleMaxPerSecond as number) / raw).toFixed(2)} (each request = 2 publishes: message + accepted event)`);
  }
  const grouped = results.rawGroupedPublishPerSecond as number | undefined;
  if (grouped !== undefined && results.singleMaxPerSecond !== undefined) {
    console.log(`gateway single-message rate / grouped raw publish rate: ${((results.singleMaxPerSecond as number) / grouped).toFixed(2)}`);
  }
  if (raw !== undefined && grouped !== undefined && results.fanoutPerSecond !== undefined) {
    console.log(`fan-out rate / raw publish rate: ${((results.fanoutPerSecond as number) / raw).toFixed(2)} (js.publish), ${((results.fanoutPerSecond as number) / grouped).toFixed(2)} (grouped)`);
  }
  results.loadAverage = { start: loadAtStart, end: loadavg().map((l) => +l.toFixed(2)) };
  console.log(`load average (1/5/15 min): at start ${loadAtStart.join(" ")}, at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(JSON.stringify(results));
  await nc.close();
} finally {
  for (const c of children) c.kill("SIGTERM");
  await sleep(500);
  for (const c of children) c.kill("SIGKILL");
  await server.dispose();
}
