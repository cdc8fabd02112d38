/**
 * bench/deliver: 100,000 messages across 50 domains, from MAIL_SEND to a local SMTP sink
 * (Postfix's smtp-sink), NATS, the node and the sink all on this machine.
 *
 *   1. the sink's own ceiling: nodemailer pools straight to smtp-sink, no NATS (same MIME);
 *   2. the suppression check: cost per message of the watched-key cache vs a KV read;
 *   3. end to end: 100,000 messages pre-loaded in MAIL_SEND, one `sluice node` process
 *      (a child, so its memory is its own) drains them; rate from its first to last ack,
 *      node RSS from its stats snapshots.
 *
 * BENCH_ROLES: "all" (default: one `sluice node` with delivery and the event services, as
 * deployed by default) or "split" (SLUICE_NODE_ROLES=delivery and =services in two
 * processes; the services' lag behind delivery is reported).
 *
 * BENCH_MESSAGES / BENCH_DOMAINS change the size. BENCH_TENANTS spreads the messages over
 * that many tenants (round-robin), to measure what fair sharing per destination costs. Needs nats-server and smtp-sink
 * (scripts/ensure-postfix.sh installs it).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { connect } from "@nats-io/transport-node";
import nodemailer from "nodemailer";
import pino from "pino";
import { SuppressionCache } from "../actors/suppression-cache.ts";
import { buildTemplate, render } from "../actors/smtp/mime.ts";
import {
  decode,
  encode,
  KV_BUCKETS,
  loadConfig,
  newId,
  NodeStats,
  OBJECT_STORES,
  partitionOf,
  recipientId,
  STATS_ALL,
  STATUS_INDEXER_CONSUMER,
  STREAMS,
  subjects,
  type DeliveryMessageInput,
  type Payload,
} from "../protocol/index.ts";
import {
  addSuppression,
  ensureTopology,
  getSuppression,
  storePayload,
  topologyFor,
  topologyOptionsFrom,
} from "../protocol/io/index.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { freePort, sleep } from "../test/harness/ports.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 100_000);
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 50);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 1);
const SPLIT = process.env.BENCH_ROLES === "split";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const payload: Payload = { from: { name: "Bench", address: "news@bench.test" }, subject: "Benchmark message", text: "Hello from the delivery benchmark.\n".repeat(20) };

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

async function main(): Promise<void> {
  execFileSync("bash", [join(ROOT, "scripts/ensure-postfix.sh")], { stdio: "inherit" });
  const sinkPort = await freePort();
  const sink = spawn("smtp-sink", ["-u", "nobody", "127.0.0.1:" + sinkPort, "1024"], { stdio: "ignore" });
  children.push(sink);
  await sleep(300);

  const sinkCeiling = measureSinkWithSmtpSource(sinkPort, Math.min(50_000, TOTAL));
  console.log(`sink ceiling (Postfix smtp-source → smtp-sink, 50 sessions, 1.5 KB messages): ${sinkCeiling.toFixed(0)} msg/s`);
  const clientCeiling = await measureSinkCeiling(sinkPort, Math.min(20_000, TOTAL));
  console.log(`SMTP client ceiling (nodemailer pools straight to smtp-sink, 50 connections, no NATS): ${clientCeiling.toFixed(0)} msg/s`);

  const nats = await startNatsServer("sluice-bench");
  cleanups.push(() => nats.dispose());
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const domains = Array.from({ length: DOMAINS }, (_, i) => `bench${i}.test`);
  const policiesFile = join(dir, "policies.json");
  writeFileSync(policiesFile, JSON.stringify({ defaults: { messagesPerSecond: 1000, burst: 1000, maxConnections: 4, maxMessagesPerConnection: 1000 } }));
  const env = { NATS_URL: nats.url, SLUICE_ROUTES: `*=127.0.0.1:${sinkPort}`, SLUICE_POLICIES: policiesFile, SLUICE_LOG_LEVEL: "warn", SLUICE_NODE_ID: "bench", SLUICE_METRICS_PORT: "0", SLUICE_SECRET_KEY: "bench-secret-key-0000" };
  const config = loadConfig({}, env);
  const nc = await connect({ servers: nats.url });
  cleanups.push(() => nc.close());
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const js = jetstream(nc);

  await measureSuppressionCheck(nc);

  const ref = await storePayload(await new Objm(nc).open(OBJECT_STORES.payloads), payload);
  const requestId = newId();
  const t0 = Date.now();
  for (let i = 0; i < TOTAL; i += 5000) {
    await Promise.all(
      Array.from({ length: Math.min(5000, TOTAL - i) }, (_, k) => {
        const n = i + k;
        const domain = domains[n % DOMAINS] as string;
        const m: DeliveryMessageInput = { v: 1, id: recipientId(requestId, n), requestId, tenant: TENANTS === 1 ? "bench" : `bench${Math.floor(n / DOMAINS) % TENANTS}`, tier: "bulk", mailFrom: "bounces@bench.test", rcptTo: `user${n}@${domain}`, payload: { ref: ref.ref, size: ref.size }, createdAt: Date.now() };
        return js.publish(subjects.send("bulk", partitionOf(domain, config.partitions)), encode(m), { msgID: m.id });
      }),
    );
  }
  console.log(`pre-loaded ${TOTAL} messages into MAIL_SEND in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  let peakRss = 0;
  const statsSub = nc.subscribe(STATS_ALL, {
    callback: (_e, msg) => {
      const s = decode(NodeStats, msg.data, "stats");
      if (s.ok) peakRss = Math.max(peakRss, s.value.rssBytes);
    },
  });
  const jsm = await jetstreamManager(nc);
  const started = Date.now();
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const roles = SPLIT ? { SLUICE_NODE_ROLES: "delivery" } : {};
  const node = spawn(process.execPath, [...profile, join(ROOT, "bin/sluice.js"), "node"], { env: { ...process.env, ...env, ...roles }, stdio: ["ignore", "ignore", "inherit"] });
  children.push(node);
  const services = SPLIT
    ? spawn(process.execPath, [join(ROOT, "bin/sluice.js"), "node"], { env: { ...process.env, ...env, SLUICE_NODE_ROLES: process.env.BENCH_SERVICES ?? "services", SLUICE_NODE_ID: "bench-services" }, stdio: ["ignore", "ignore", "inherit"] })
    : undefined;
  if (services) children.push(services);
  let firstAckAt = 0;
  let cpuAtFirstAckMs = 0;
  let ackedAtFirstAck = 0;
  // nats-server and the sink share the machine: their CPU per message bounds the rate as well.
  const othersCpuMs = (): { nats: number; sink: number } => ({ nats: nats.pid === undefined ? 0 : cpuTimeMs(nats.pid), sink: sink.pid === undefined ? 0 : cpuTimeMs(sink.pid) });
  let othersAtFirstAckMs = { nats: 0, sink: 0 };
  let servicesAtFirstAckMs = 0;
  let left = TOTAL;
  while (left > 0) {
    await sleep(250);
    left = (await jsm.streams.info(STREAMS.send)).state.messages;
    if (firstAckAt === 0 && left < TOTAL) {
      firstAckAt = Date.now();
      // CPU from here on is the drain alone, without start-up (tsx compiling the sources).
      cpuAtFirstAckMs = node.pid === undefined ? 0 : cpuTimeMs(node.pid);
      othersAtFirstAckMs = othersCpuMs();
      servicesAtFirstAckMs = services?.pid === undefined ? 0 : cpuTimeMs(services.pid);
      ackedAtFirstAck = TOTAL - left;
    }
    if (Date.now() - started > 600_000) throw new Error(`gave up with ${left} messages left`);
  }
  const done = Date.now();
  const cpuMs = node.pid === undefined ? 0 : cpuTimeMs(node.pid);
  const othersMs = othersCpuMs();
  const servicesMs = services?.pid === undefined ? 0 : cpuTimeMs(services.pid);
  // The status index and webhook fan-out follow MAIL_EVENTS: how far behind were they?
  const indexer = await jsm.consumers.info(STREAMS.events, STATUS_INDEXER_CONSUMER);
  const behindAtDone = indexer.num_pending + indexer.num_ack_pending;
  let caughtUpAt = Date.now();
  for (;;) {
    const i = await jsm.consumers.info(STREAMS.events, STATUS_INDEXER_CONSUMER);
    caughtUpAt = Date.now();
    if (i.num_pending + i.num_ack_pending === 0 || caughtUpAt - done > 300_000) break;
    await sleep(250);
  }
  await sleep(2100); // one more stats snapshot
  statsSub.unsubscribe();
  node.kill("SIGTERM");
  services?.kill("SIGTERM");
  await Promise.all([node, services].map((c) => c && new Promise((r) => c.once("exit", r))));
  const rate = TOTAL / ((done - firstAckAt) / 1000);
  console.log(`end to end: ${TOTAL} messages, ${DOMAINS} domains, ${rate.toFixed(0)} msg/s (first to last ack ${((done - firstAckAt) / 1000).toFixed(1)} s; ${((done - started) / 1000).toFixed(1)} s including node start-up)`);
  const drainUs = ((cpuMs - cpuAtFirstAckMs) * 1000) / (TOTAL - ackedAtFirstAck);
  console.log(`node peak RSS: ${(peakRss / 1024 / 1024).toFixed(0)} MB; node CPU ${(cpuMs / 1000).toFixed(1)} s in all = ${((cpuMs * 1000) / TOTAL).toFixed(0)} µs per message (→ ~${Math.round(TOTAL / (cpuMs / 1000))} msg/s per free core); while draining ${drainUs.toFixed(0)} µs per message (→ ~${Math.round(1e6 / drainUs)} msg/s per free core); load average ${loadavg()[0]?.toFixed(1)}`);
  const drained = TOTAL - ackedAtFirstAck;
  const natsUs = ((othersMs.nats - othersAtFirstAckMs.nats) * 1000) / drained;
  const sinkUs = ((othersMs.sink - othersAtFirstAckMs.sink) * 1000) / drained;
  console.log(`while draining, per message: nats-server ${natsUs.toFixed(0)} µs, smtp-sink ${sinkUs.toFixed(0)} µs of CPU (all three: ${(drainUs + natsUs + sinkUs).toFixed(0)} µs; 2 cores allow ${Math.round(2e6 / (drainUs + natsUs + sinkUs))} msg/s)`);
  const servicesUs = ((servicesMs - servicesAtFirstAckMs) * 1000) / drained;
  if (SPLIT) console.log(`services process (status indexer, webhook fan-out, ...) while delivery drained: ${servicesUs.toFixed(0)} µs per message`);
  console.log(`status indexer at the last ack: ${behindAtDone} events behind; caught up ${((caughtUpAt - done) / 1000).toFixed(1)} s later`);
  console.log(`JSON ${JSON.stringify({ roles: SPLIT ? "split" : "all", servicesCpuUsPerMessage: SPLIT ? Math.round(servicesUs) : undefined, indexerBehindAtLastAck: behindAtDone, indexerCatchUpMs: caughtUpAt - done, natsCpuUsPerMessage: Math.round(natsUs), sinkCpuUsPerMessage: Math.round(sinkUs), messages: TOTAL, domains: DOMAINS, msgPerSec: Math.round(rate), sinkCeilingMsgPerSec: Math.round(sinkCeiling), nodemailerCeilingMsgPerSec: Math.round(clientCeiling), nodePeakRssMB: Math.round(peakRss / 1048576), nodeCpuUsPerMessage: Math.round((cpuMs * 1000) / TOTAL), nodeDrainCpuUsPerMessage: Math.round(drainUs), loadAverage: loadavg()[0] })}`);
}

/** utime + stime of a process, from /proc (includes start-up: a conservative figure). */
function cpuTimeMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function measureSinkWithSmtpSource(port: number, count: number): number {
  const started = Date.now();
  execFileSync("smtp-source", ["-s", "50", "-m", String(count), "-l", "1500", "-f", "b@bench.test", "-t", "u@sink.test", `127.0.0.1:${port}`], { stdio: "ignore" });
  return count / ((Date.now() - started) / 1000);
}

async function measureSinkCeiling(port: number, count: number): Promise<number> {
  const template = await buildTemplate(payload);
  const transports = Array.from({ length: 10 }, () => nodemailer.createTransport({ pool: true, host: "127.0.0.1", port, maxConnections: 5, maxMessages: 1000, logger: false }));
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async (_, w) => {
      const t = transports[w % transports.length] as (typeof transports)[number];
      for (let n = next++; n < count; n = next++) {
        const raw = render(template, { v: 1, id: `${"0".repeat(26)}-${n}`, requestId: "0".repeat(26), tenant: "bench", tier: "bulk", mailFrom: "b@bench.test", rcptTo: `u${n}@sink.test`, payload: { ref: "x", size: 1 } as never, createdAt: 1, attempts: [] }, { messageIdDomain: "bench.test", listUnsubscribe: undefined, now: Date.now() });
        await t.sendMail({ envelope: { from: "b@bench.test", to: [`u${n}@sink.test`] }, raw });
      }
    }),
  );
  const rate = count / ((Date.now() - started) / 1000);
  transports.forEach((t) => t.close());
  return rate;
}

async function measureSuppressionCheck(nc: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const kv = await new Kvm(nc).open(KV_BUCKETS.suppressions);
  for (let i = 0; i < 1000; i++) await addSuppression(kv, "bench", { address: `gone${i}@bench0.test`, reason: "hard_bounce", at: Date.now() });
  const cache = new SuppressionCache(kv);
  await cache.start(pino({ level: "silent" }));
  await sleep(500);
  const n = 100_000;
  let t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await cache.get("bench", `user${i}@bench1.test`);
  const cachedUs = Number(process.hrtime.bigint() - t) / 1000 / n;
  const reads = 2000;
  t = process.hrtime.bigint();
  await Promise.all(Array.from({ length: reads }, (_, i) => getSuppression(kv, "bench", `user${i}@bench1.test`)));
  const kvUs = Number(process.hrtime.bigint() - t) / 1000 / reads;
  cache.stop();
  console.log(`suppression check per message: ${cachedUs.toFixed(2)} µs from the watched key set (1,000 suppressed addresses), ${kvUs.toFixed(0)} µs per KV read (2,000 concurrent)`);
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(async () => {
    children.forEach((c) => c.kill("SIGKILL"));
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  });
