/**
 * Paired A/B of the gateway's CPU per single-message request: two gateways from two source
 * trees (e.g. a `git archive` of the previous commit and this tree) against one nats-server,
 * loaded in alternating bursts so that both see the same background load. On a shared
 * machine the absolute figures move with the load; the ratio between A and B holds better.
 * Run: node --import tsx bench/ingest-ab.ts <dirA> <dirB>   (BENCH_AB_ROUNDS=6 BENCH_AB_SECONDS=4)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Pool } from "undici";
import { KV_BUCKETS, loadConfig, STREAMS } from "../protocol/index.ts";
import { createApiKey, ensureTopology, topologyFor, topologyOptionsFrom } from "../protocol/io/index.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";

const [dirA, dirB] = process.argv.slice(2).map((d) => resolve(d));
if (!dirA || !dirB) throw new Error("usage: bench/ingest-ab.ts <dirA> <dirB>");
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 6);
const SECONDS = Number(process.env.BENCH_AB_SECONDS ?? 4);
const PARTITIONS = 32;
const cpuS = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const server = await startNatsServer("bench-ab");
const children: ChildProcess[] = [];
try {
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: String(PARTITIONS) });
  const nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const jsm = await jetstreamManager(nc);
  const { key } = await createApiKey(await new Kvm(nc).open(KV_BUCKETS.keys), { tenant: "bench", scopes: ["send", "read"] });
  const start = async (dir: string) => {
    const gw = spawn(process.execPath, ["--import", "tsx", `${dir}/bench/ingest-gateway.ts`], {
      cwd: dir,
      env: { ...process.env, NATS_URL: server.url, SLUICE_PARTITIONS: String(PARTITIONS), SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0", SLUICE_LOG_LEVEL: "warn", SLUICE_SECRET_KEY: "bench-secret-key-0000", SLUICE_REQUIRE_VERIFIED_DOMAINS: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(gw);
    const port = await new Promise<number>((ok, fail) => {
      gw.stdout?.on("data", (d: Buffer) => {
        const m = /port (\d+)/.exec(d.toString());
        if (m) ok(Number(m[1]));
      });
      gw.once("exit", () => fail(new Error(`gateway in ${dir} exited`)));
    });
    return { pid: gw.pid as number, pool: new Pool(`http://127.0.0.1:${port}`, { connections: 64, pipelining: 1 }) };
  };
  const gws = { A: await start(dirA), B: await start(dirB) };
  const headers = { "content-type": "application/json", authorization: `Bearer ${key}` };
  let n = 0;
  const single = () => JSON.stringify({ from: "Bench <a@bench.test>", to: `u${n}@example${n++ % 100}.com`, subject: "Hello", text: "Hi there, this is a benchmark message." });
  const burst = async (g: { pid: number; pool: Pool }, seconds: number) => {
    let ok = 0;
    const end = Date.now() + seconds * 1000;
    const cpu0 = cpuS(g.pid);
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: 128 }, async () => {
        while (Date.now() < end) {
          const res = await g.pool.request({ path: "/v1/messages", method: "POST", headers, body: single() });
          await res.body.dump();
          if (res.statusCode === 202) ok++;
        }
      }),
    );
    return { rate: ok / ((Date.now() - t0) / 1000), cpuUs: ((cpuS(g.pid) - cpu0) / Math.max(1, ok)) * 1e6 };
  };
  for (const g of Object.values(gws)) await burst(g, 2); // warm-up
  const res = { A: [] as { rate: number; cpuUs: number }[], B: [] as { rate: number; cpuUs: number }[] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const)) {
      res[name].push(await burst(gws[name], SECONDS));
      await jsm.streams.purge(STREAMS.send);
    }
  }
  for (const name of ["A", "B"] as const) {
    console.log(`${name}: median ${Math.round(median(res[name].map((x) => x.cpuUs)))} µs/request, median ${Math.round(median(res[name].map((x) => x.rate)))} req/s  [${res[name].map((x) => `${Math.round(x.cpuUs)}µs/${Math.round(x.rate)}`).join(" ")}]`);
  }
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  for (const g of Object.values(gws)) await g.pool.close();
  await nc.close();
} finally {
  for (const c of children) c.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) c.kill("SIGKILL");
  await server.dispose();
}
