/**
 * bench/e2e: issue 17's throughput rows, measured from outside as a user sees them: one
 * `sluice gateway` and one `sluice node` with every role (child processes), their own
 * nats-server, Postfix's smtp-sink as the peer, all on this machine. Each case starts from
 * a fresh nats-server and sink; the time is from the `POST /v1/batches` to the sink's count
 * reaching the last message (smtp-sink -c), after a small warm-up batch to the same domains.
 *
 *   node --import tsx bench/e2e.bench.ts
 *   BENCH_CASES=postfix,personal,plain,large BENCH_RECIPIENTS=20000 BENCH_LARGE_RECIPIENTS=2000
 *   BENCH_DOMAINS=50 BENCH_POSTFIX_MESSAGES=5000 BENCH_PROFILE=<dir> (node --cpu-prof of the node)
 *   BENCH_CASES=backlog BENCH_BACKLOG_RECIPIENTS=200000 BENCH_BACKLOG_DOMAINS=200 BENCH_LATENCY_RATE=500
 *
 * Cases: `personal` 5 KB text with {{n}} in subject and body; `plain` the same without
 * variables; `large` 100 KB personalized; `postfix` Postfix (a private instance relaying to
 * the same sink) fed by smtp-source with 20 sessions, 5 KB messages: the reference of the
 * same run. Prints one JSON line per case. Needs root for Postfix, nats-server.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import {
  BatchProgress,
  decode,
  KV_BUCKETS,
  NodeStats,
  STATS_ALL,
  STREAMS,
} from "../protocol/index.ts";
import { createApiKey } from "../protocol/io/index.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { freePort, sleep } from "../test/harness/ports.ts";
import { startPostfix } from "../test/harness/postfix.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CASES = (process.env.BENCH_CASES ?? "postfix,personal,plain").split(",").filter(Boolean);
const RECIPIENTS = Number(process.env.BENCH_RECIPIENTS ?? 20_000);
const LARGE_RECIPIENTS = Number(process.env.BENCH_LARGE_RECIPIENTS ?? 2_000);
// Postfix is ~100-200 msg/s on this machine: fewer messages keep its case near a minute.
const POSTFIX_MESSAGES = Number(process.env.BENCH_POSTFIX_MESSAGES ?? 5_000);
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 50);
const WARMUP = 500;

const children = new Set<ChildProcess>();
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

/** utime + stime of a process from /proc, in ms. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

/** smtp-sink with a running counter (-c): `mesg=N` after every message's final dot. */
async function startSink(): Promise<{ port: number; count(): number; proc: ChildProcess; stop(): void }> {
  const port = await freePort();
  const proc = spawn("smtp-sink", ["-c", "-u", "nobody", `127.0.0.1:${port}`, "1024"], { stdio: ["ignore", "pipe", "ignore"] });
  children.add(proc);
  let count = 0;
  let tail = "";
  proc.stdout?.on("data", (d: Buffer) => {
    tail = (tail + d.toString("latin1")).slice(-200);
    const all = [...tail.matchAll(/mesg=(\d+)/g)];
    const last = all[all.length - 1];
    if (last) count = Math.max(count, Number(last[1]));
  });
  await sleep(300);
  return { port, proc, count: () => count, stop: () => proc.kill("SIGKILL") };
}

const text5k = (personal: boolean): string => {
  const line = personal ? "Dear reader {{n}}, here is this week's news from the benchmark.\n" : "Dear reader, here is this week's news from the benchmark, once more.\n";
  return line.repeat(Math.ceil(5120 / line.length)).slice(0, 5120);
};
const text100k = (): string => {
  const line = "Dear reader {{n}}, here is this week's long digest from the benchmark.\n";
  return line.repeat(Math.ceil(102_400 / line.length)).slice(0, 102_400);
};

interface Result {
  case: string;
  messages: number;
  seconds: number;
  msgPerSec: number;
  cpuUsPerMessage: Record<string, number>;
  nodePeakRssMB?: number;
  loadAverage: string;
  extra?: object;
}

async function waitCount(count: () => number, target: number, limitMs: number): Promise<void> {
  const started = Date.now();
  while (count() < target) {
    if (Date.now() - started > limitMs) throw new Error(`the sink counted ${count()} of ${target} in ${limitMs / 1000} s`);
    await sleep(20);
  }
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");

async function postfixCase(): Promise<Result> {
  execFileSync("bash", [join(ROOT, "scripts/ensure-postfix.sh")], { stdio: "inherit" });
  const sink = await startSink();
  const postfix = await startPostfix({ domains: ["sink.test"], relayTo: `127.0.0.1:${sink.port}` });
  try {
    execFileSync("smtp-source", ["-s", "20", "-m", String(WARMUP), "-l", "5120", "-f", "b@bench.test", "-t", "u@sink.test", `127.0.0.1:${postfix.port}`], { stdio: "ignore" });
    await waitCount(sink.count, WARMUP, 120_000);
    const loadBefore = load();
    const masterPid = Number(readFileSync(join(postfix.dir, "queue", "pid", "master.pid"), "utf8").trim());
    const cpu0 = postfixCpuMs(masterPid);
    const sink0 = cpuMs(sink.proc.pid);
    const t0 = Date.now();
    execFileSync("smtp-source", ["-s", "20", "-m", String(POSTFIX_MESSAGES), "-l", "5120", "-f", "b@bench.test", "-t", "u@sink.test", `127.0.0.1:${postfix.port}`], { stdio: "ignore" });
    await waitCount(sink.count, WARMUP + POSTFIX_MESSAGES, 600_000);
    const seconds = (Date.now() - t0) / 1000;
    return {
      case: "postfix",
      messages: POSTFIX_MESSAGES,
      seconds,
      msgPerSec: Math.round(POSTFIX_MESSAGES / seconds),
      cpuUsPerMessage: { postfix: Math.round(((postfixCpuMs(masterPid) - cpu0) * 1000) / POSTFIX_MESSAGES), sink: Math.round(((cpuMs(sink.proc.pid) - sink0) * 1000) / POSTFIX_MESSAGES) },
      loadAverage: `${loadBefore} → ${load()}`,
    };
  } finally {
    await postfix.stop();
    sink.stop();
  }
}

/** CPU of the Postfix master and every daemon under it (smtpd, cleanup, qmgr, smtp, ...). */
function postfixCpuMs(master: number): number {
  let total = 0;
  const kids = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const walk = (pid: number): void => {
    total += cpuMs(pid);
    for (const k of kids(pid)) walk(k);
  };
  walk(master);
  return total; // daemons that exited meanwhile are not counted: a floor
}

interface Stack {
  nats: Awaited<ReturnType<typeof startNatsServer>>;
  sink: Awaited<ReturnType<typeof startSink>>;
  gateway: ChildProcess;
  node: ChildProcess;
  url: string;
  key: string;
  nc: NatsConnection;
  peakRss(): number;
  lastRss(): number;
  stop(): Promise<void>;
}

async function startStack(name: string, policy: object): Promise<Stack> {
  const nats = await startNatsServer(`sluice-bench-e2e-${name}`);
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), "sluice-bench-e2e-"));
  const policiesFile = join(dir, "policies.json");
  writeFileSync(policiesFile, JSON.stringify(policy));
  const httpPort = await freePort();
  const env = {
    ...process.env,
    NATS_URL: nats.url,
    SLUICE_ROUTES: `*=127.0.0.1:${sink.port}`,
    SLUICE_POLICIES: policiesFile,
    SLUICE_LOG_LEVEL: "warn",
    SLUICE_NODE_ID: "bench-e2e",
    SLUICE_METRICS_PORT: "0",
    SLUICE_HTTP_HOST: "127.0.0.1",
    SLUICE_HTTP_PORT: String(httpPort),
    // The production profile refuses to start without a key-sealing secret, and the bench's
    // sender domain is not a verified one (issue 14).
    SLUICE_SECRET_KEY: "bench-e2e-secret-key-0123456789",
    SLUICE_REQUIRE_VERIFIED_DOMAINS: "0",
  };
  const nc = await connect({ servers: nats.url });
  let peak = 0;
  let last = 0;
  let partitions = 0;
  const sub = nc.subscribe(STATS_ALL, {
    callback: (_e, msg) => {
      const s = decode(NodeStats, msg.data, "stats");
      if (s.ok) {
        peak = Math.max(peak, s.value.rssBytes);
        last = s.value.rssBytes;
        partitions = s.value.partitions.length;
      }
    },
  });
  const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  // BENCH_NODE_FLAGS: node options for the node process only (e.g. --max-old-space-size=160).
  const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const node = spawn(process.execPath, [...profile, ...nodeFlags, join(ROOT, "bin/sluice.js"), "node"], { env, stdio: ["ignore", "ignore", "inherit"] });
  children.add(node);
  const gateway = spawn(process.execPath, [join(ROOT, "bin/sluice.js"), "gateway"], { env, stdio: ["ignore", "ignore", "inherit"] });
  children.add(gateway);
  const url = `http://127.0.0.1:${httpPort}`;
  for (const started = Date.now(); ; await sleep(200)) {
    if (Date.now() - started > 60_000) throw new Error("gateway or node not ready in 60 s");
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok && partitions === 32) break;
  }
  const { key } = await createApiKey(await new Kvm(nc).open(KV_BUCKETS.keys), { tenant: "bench", scopes: ["send", "read"] });
  return {
    nats,
    sink,
    gateway,
    node,
    url,
    key,
    nc,
    peakRss: () => peak,
    lastRss: () => last,
    stop: async () => {
      sub.unsubscribe();
      for (const c of [gateway, node]) {
        c.kill("SIGTERM");
        await Promise.race([new Promise((r) => c.once("exit", r)), sleep(10_000)]);
      }
      await nc.close();
      sink.stop();
      await nats.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postBatch(s: Stack, body: object | string): Promise<string> {
  const res = await fetch(`${s.url}/v1/batches`, { method: "POST", headers: { authorization: `Bearer ${s.key}`, "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  if (res.status !== 202) throw new Error(`POST /v1/batches: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { batchId: string }).batchId;
}

const domainOf = (i: number): string => `bench${i % DOMAINS}.test`;

function batch(text: string, personal: boolean, from: number, count: number): object {
  return {
    from: { name: "Bench", address: "news@bench.test" },
    subject: personal ? "Your news, reader {{n}}" : "Your news",
    text,
    recipients: Array.from({ length: count }, (_, k) => ({ to: `user${from + k}@${domainOf(from + k)}`, ...(personal ? { vars: { n: String(from + k) } } : {}) })),
  };
}

async function sluiceCase(name: string, text: string, personal: boolean, count: number): Promise<Result> {
  // Policy: not the limit (1,000 msg/s, 4 connections per domain), as in bench/deliver.
  const s = await startStack(name, { defaults: { messagesPerSecond: 1000, burst: 1000, maxConnections: 4, maxMessagesPerConnection: 1000 } });
  try {
    await postBatch(s, batch(text, personal, 0, WARMUP));
    await waitCount(s.sink.count, WARMUP, 120_000);
    const loadBefore = load();
    const pids = { node: s.node.pid, gateway: s.gateway.pid, nats: s.nats.pid, sink: s.sink.proc.pid };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMs(p)]));
    const t0 = Date.now();
    await postBatch(s, batch(text, personal, WARMUP, count));
    await waitCount(s.sink.count, WARMUP + count, 600_000);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(2100); // one more stats snapshot for the RSS
    return {
      case: name,
      messages: count,
      seconds,
      msgPerSec: Math.round(count / seconds),
      cpuUsPerMessage: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, Math.round(((cpuMs(p) - (cpu0[k] ?? 0)) * 1000) / count)])),
      nodePeakRssMB: Math.round(s.peakRss() / 1048576),
      loadAverage: `${loadBefore} → ${load()}`,
    };
  } finally {
    await s.stop();
  }
}

const BACKLOG = Number(process.env.BENCH_BACKLOG_RECIPIENTS ?? 200_000);
const BACKLOG_DOMAINS = Number(process.env.BENCH_BACKLOG_DOMAINS ?? 200);
const LATENCY_RATE = Number(process.env.BENCH_LATENCY_RATE ?? 500);

/**
 * Issue 17's last row, scaled down: BACKLOG recipients over 200 domains whose policy is
 * 1 msg/s each (one connection), as batches of 100,000. Measured: expansion (POST to every
 * batch `expanded`) while the node also delivers; single messages at 500 req/s to a
 * domain without that limit meanwhile (latency from the intended send time); then, with
 * the backlog parked, 20 s of steady delivery: node CPU, RSS, and JetStream deliveries per
 * message delivered (1.0 = every message pulled once).
 */
async function backlogCase(): Promise<Result> {
  const s = await startStack("backlog", {
    defaults: { messagesPerSecond: 1, burst: 1, maxConnections: 1, maxMessagesPerConnection: 1000 },
    domains: { "fast.test": { messagesPerSecond: 1000, burst: 1000, maxConnections: 4, maxMessagesPerConnection: 1000 } },
  });
  try {
    const loadBefore = load();
    const kv = await new Kvm(s.nc).open(KV_BUCKETS.batches);
    const jsm = await jetstreamManager(s.nc);
    // Every JetStream delivery of a recipient message: MAIL_SEND's (tier, partition)
    // consumers, plus MAIL_PARKED's unparkers when parking is on (a parked consumer that
    // expired for inactivity is not counted: it took nothing back lately).
    const deliveries = async (): Promise<number> => {
      let n = 0;
      for (const stream of [STREAMS.send, STREAMS.parked]) {
        try {
          for await (const c of jsm.consumers.list(stream)) n += c.delivered.consumer_seq;
        } catch {
          // no MAIL_PARKED on a build without parking
        }
      }
      return n;
    };
    // Bodies built before the clock starts: the latency probe shares this process.
    const bodies: string[] = [];
    for (let from = 0; from < BACKLOG; from += 100_000) {
      const n = Math.min(100_000, BACKLOG - from);
      bodies.push(
        JSON.stringify({
          from: { address: "news@bench.test" },
          subject: "Backlog {{n}}",
          text: "A short message for a slow destination, reader {{n}}.\n",
          recipients: Array.from({ length: n }, (_, k) => ({ to: `user${from + k}@slow${(from + k) % BACKLOG_DOMAINS}.test`, vars: { n: String(from + k) } })),
        }),
      );
    }
    const t0 = Date.now();
    const cpu0 = cpuMs(s.node.pid);
    const ids: string[] = [];
    for (const body of bodies) ids.push(await postBatch(s, body));
    // From the 202s on: the gateway's own parsing of the batches is not what is measured.
    const latencies = singleMessages(s, LATENCY_RATE, 10_000);
    for (;;) {
      // A KV read may time out while nats-server is saturated: just ask again.
      const states = await Promise.all(ids.map(async (id) => decode(BatchProgress, (await kv.get(id).catch(() => null))?.value ?? new Uint8Array(), "progress")));
      if (states.every((p) => p.ok && p.value.state === "expanded")) break;
      if (Date.now() - t0 > 600_000) throw new Error("backlog not expanded in 10 minutes");
      await sleep(100);
    }
    const expandSeconds = (Date.now() - t0) / 1000;
    const pulledWhileExpanding = await deliveries();
    // Messages written to MAIL_PARKED so far (its last sequence): a parked message is one write.
    const parks = async (): Promise<number> => jsm.streams.info(STREAMS.parked).then((i) => i.state.last_seq, () => 0);
    const parkedWhileExpanding = await parks();
    const expandCpuUs = ((cpuMs(s.node.pid) - cpu0) * 1000) / BACKLOG;
    const lat = await latencies;
    await sleep(10_000);
    const w0 = { t: Date.now(), cpu: cpuMs(s.node.pid), sink: s.sink.count(), deliveries: await deliveries(), parks: await parks() };
    await sleep(20_000);
    const w1 = { t: Date.now(), cpu: cpuMs(s.node.pid), sink: s.sink.count(), deliveries: await deliveries(), parks: await parks() };
    await sleep(2100);
    const seconds = (w1.t - w0.t) / 1000;
    const delivered = w1.sink - w0.sink;
    const rssMB = Math.round(s.peakRss() / 1048576);
    const lastRssMB = Math.round(s.lastRss() / 1048576);
    console.log(
      `backlog: ${BACKLOG} recipients over ${BACKLOG_DOMAINS} domains at 1 msg/s: expanded in ${expandSeconds.toFixed(1)} s = ${Math.round((BACKLOG / expandSeconds) * 60)} recipients/min (node ${expandCpuUs.toFixed(0)} µs CPU per recipient meanwhile, ${pulledWhileExpanding} JetStream deliveries of recipient messages and ${parkedWhileExpanding} parked by then); ` +
        `single messages at ${LATENCY_RATE}/s meanwhile: p50 ${lat.p50.toFixed(1)} ms, p99 ${lat.p99.toFixed(1)} ms, max ${lat.max.toFixed(0)} ms (${lat.errors} errors of ${lat.sent}); ` +
        `then ${(delivered / seconds).toFixed(0)} msg/s delivered with the node at ${(((w1.cpu - w0.cpu) / (seconds * 1000)) * 100).toFixed(0)}% of a core, ${((w1.deliveries - w0.deliveries) / Math.max(1, delivered)).toFixed(2)} JetStream deliveries and ${((w1.parks - w0.parks) / Math.max(1, delivered)).toFixed(2)} parks per delivered message; node RSS ${lastRssMB} MB at the end, peak ${rssMB} MB`,
    );
    return {
      case: "backlog",
      messages: BACKLOG,
      seconds: expandSeconds,
      msgPerSec: Math.round(delivered / seconds),
      cpuUsPerMessage: { nodeWhileExpanding: Math.round(expandCpuUs), nodeCorePercentWhileDelivering: Math.round(((w1.cpu - w0.cpu) / (seconds * 1000)) * 100) },
      nodePeakRssMB: rssMB,
      loadAverage: `${loadBefore} → ${load()}`,
      extra: { pulledWhileExpanding, parkedWhileExpanding, parksPerMessage: (w1.parks - w0.parks) / Math.max(1, delivered), lastRssMB, recipientsPerMinute: Math.round((BACKLOG / expandSeconds) * 60), latency: lat, deliveriesPerMessage: (w1.deliveries - w0.deliveries) / Math.max(1, delivered) },
    };
  } finally {
    await s.stop();
  }
}

/** Open-loop single messages (POST /v1/messages) at `rate` per second for `ms`; latency from each one's intended send time. */
async function singleMessages(s: Stack, rate: number, ms: number): Promise<{ sent: number; errors: number; p50: number; p99: number; max: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  const body = JSON.stringify({ from: { address: "alerts@bench.test" }, to: "ops@fast.test", subject: "Single", text: "One message." });
  for (let i = 0; i < (rate * ms) / 1000; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(
      fetch(`${s.url}/v1/messages`, { method: "POST", headers: { authorization: `Bearer ${s.key}`, "content-type": "application/json" }, body }).then(
        async (r) => {
          await r.arrayBuffer();
          if (r.status !== 202) errors++;
          latencies.push(performance.now() - due);
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { sent: pending.length, errors, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] ?? NaN };
}

async function main(): Promise<void> {
  for (const c of CASES) {
    let r: Result;
    if (c === "postfix") r = await postfixCase();
    else if (c === "personal") r = await sluiceCase(c, text5k(true), true, RECIPIENTS);
    else if (c === "plain") r = await sluiceCase(c, text5k(false), false, RECIPIENTS);
    else if (c === "large") r = await sluiceCase(c, text100k(), true, LARGE_RECIPIENTS);
    else if (c === "backlog") r = await backlogCase();
    else throw new Error(`unknown case ${c}`);
    if (c !== "backlog") console.log(`${r.case}: ${r.messages} messages in ${r.seconds.toFixed(1)} s = ${r.msgPerSec} msg/s; CPU µs/message ${JSON.stringify(r.cpuUsPerMessage)}${r.nodePeakRssMB ? `; node peak RSS ${r.nodePeakRssMB} MB` : ""}; load ${r.loadAverage}`);
    console.log(`JSON ${JSON.stringify(r)}`);
  }
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    children.forEach((c) => c.kill("SIGKILL"));
  });
