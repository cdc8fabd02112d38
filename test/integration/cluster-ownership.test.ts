import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { startOwnership, partitionsFor, readClusterStatus, type Ownership, type OwnershipEvent } from "../../actors/cluster/index.ts";
import { KV_BUCKETS, loadConfig } from "../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { sleep, waitFor } from "../harness/ports.ts";
import { ExclusivityLog, modelNode } from "./cluster-helpers/exclusivity.ts";
import { TcpProxy } from "./cluster-helpers/tcp-proxy.ts";

const P = 16;
const TTL_MS = 2000;
const config = loadConfig({ SLUICE_PARTITIONS: String(P), SLUICE_LEASE_TTL: "2s" });
const logger = pino({ level: process.env.TEST_LOG ?? "silent" });

interface Member {
  id: string;
  proxy: TcpProxy;
  nc: NatsConnection;
  ownership: Ownership;
  events: OwnershipEvent[];
  dead: boolean;
}

let server: NatsServer;
let admin: NatsConnection;
const exclusivity = new ExclusivityLog();
const members = new Map<string, Member>();
let checker: NodeJS.Timeout;

async function startMember(id: string, drainMs = 100): Promise<Member> {
  const proxy = await new TcpProxy(server.port).listen();
  const nc = await connect({ servers: proxy.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const member = { id, proxy, nc, events: [] as OwnershipEvent[], dead: false } as Member;
  member.ownership = await startOwnership(nc, { ...config, nodeId: id }, logger, {
    onChange: modelNode({ starting: (set) => exclusivity.starting(id, set), settled: (set) => exclusivity.settled(id, set) }, drainMs, () => member.dead),
    onEvent: (e) => member.events.push(e),
  });
  members.set(id, member);
  return member;
}

const alive = (): Member[] => [...members.values()].filter((m) => !m.dead);

/** Every partition consumed by exactly the node rendezvous hashing picks among the live ones. */
async function waitForBalance(what: string, timeoutMs = 15_000): Promise<void> {
  await waitFor(what, () => {
    const ids = alive().map((m) => m.id);
    for (const m of alive()) {
      const want = partitionsFor(m.id, P, ids);
      const held = [...(exclusivity.held.get(m.id) ?? [])].sort((a, b) => a - b);
      if (JSON.stringify(want) !== JSON.stringify(m.ownership.owned()) || JSON.stringify(want) !== JSON.stringify(held)) return undefined;
    }
    return exclusivity.covered().size === P ? true : undefined;
  }, timeoutMs, 20);
}

before(async () => {
  server = await startNatsServer();
  admin = await connect({ servers: server.url });
  await ensureTopology(admin, topologyFor(topologyOptionsFrom(config)));
  checker = setInterval(() => exclusivity.check(), 2);
}, { timeout: 60_000 });

after(async () => {
  clearInterval(checker);
  for (const m of members.values()) {
    m.proxy.resume();
    await m.ownership.stop().catch(() => undefined);
    await m.nc.close().catch(() => undefined);
    await m.proxy.close();
  }
  await admin?.close();
  await server?.dispose();
}, { timeout: 60_000 });

test("three nodes split every partition between them, each by rendezvous hashing", async () => {
  await Promise.all(["n1", "n2", "n3"].map((id) => startMember(id)));
  await waitForBalance("3 nodes to own all partitions");
  for (const m of alive()) assert.ok(m.ownership.owned().length > 0, `${m.id} owns nothing`);
  assert.deepEqual(exclusivity.violations, []);
});

test("sluice cluster shows each node, its lease age and the partitions it owns", async () => {
  const status = await readClusterStatus(admin, P);
  assert.deepEqual(status.unowned, []);
  assert.deepEqual(status.nodes.map((n) => n.id), ["n1", "n2", "n3"]);
  for (const n of status.nodes) {
    assert.deepEqual(n.partitions, partitionsFor(n.id, P, ["n1", "n2", "n3"]));
    assert.ok(n.leaseAgeMs !== undefined && n.leaseAgeMs < TTL_MS, `lease age ${n.leaseAgeMs}`);
    assert.equal(n.pid, process.pid);
  }
  // Asynchronously: a synchronous child would block this process's heartbeats, and on a
  // loaded machine the CLI's start-up outlives the 2 s leases.
  const { stdout: out } = await promisify(execFile)(process.execPath, [fileURLToPath(new URL("../../bin/sluice.js", import.meta.url)), "cluster"], {
    env: { ...process.env, NATS_URL: server.url, SLUICE_PARTITIONS: String(P) },
    encoding: "utf8",
  });
  assert.match(out, /^3 node\(s\), 16 partitions, lease TTL 2s/);
  for (const n of status.nodes) assert.match(out, new RegExp(`^${n.id}\\s+\\S+\\s+${process.pid}\\s+\\S+\\s+${n.partitions.length}\\s+\\d`, "m"));
  assert.match(out, /every partition is owned/);
});

test("a joining node takes its share; no partition is ever consumed by two nodes", async () => {
  await startMember("n4");
  await waitForBalance("n4 to get its share");
  assert.ok((exclusivity.held.get("n4")?.size ?? 0) > 0);
  assert.deepEqual(exclusivity.violations, []);
});

test("a leaving node drains, releases, and the others take its partitions at once", async () => {
  const leaver = members.get("n2") as Member;
  const started = Date.now();
  await leaver.ownership.stop();
  leaver.dead = true;
  assert.equal(exclusivity.held.get("n2")?.size ?? 0, 0, "a stopped node still consumes");
  await waitForBalance("n2's partitions to move");
  // A clean hand-over does not wait for lock expiry.
  assert.ok(Date.now() - started < TTL_MS, `hand-over took ${Date.now() - started} ms`);
  assert.ok(leaver.events.some((e) => e.type === "released"));
  assert.deepEqual(exclusivity.violations, []);
});

test("a crashed node's partitions are taken over once its locks expire, not before", async () => {
  const victim = members.get("n3") as Member;
  const theirs = [...(exclusivity.held.get("n3") ?? [])];
  assert.ok(theirs.length > 0);
  const crashedAt = Date.now();
  // A crash: no release, no more heartbeats; from now on it consumes nothing.
  victim.dead = true;
  exclusivity.gone("n3");
  victim.proxy.pause();
  await waitForBalance("the crashed node's partitions to be taken over");
  const tookMs = Date.now() - crashedAt;
  // Locks were written at most TTL/3 before the crash and live TTL after their last write.
  assert.ok(tookMs >= TTL_MS - TTL_MS / 3 - 100, `taken over after ${tookMs} ms, before the locks could expire`);
  assert.deepEqual(exclusivity.violations, []);
  logger.info({ tookMs }, "crash takeover");
});

test("a node cut off from NATS fences itself before anyone else may take its partitions, and comes back", async () => {
  const cut = members.get("n1") as Member;
  const theirs = [...(exclusivity.held.get("n1") ?? [])];
  assert.ok(theirs.length > 0);
  const cutAt = Date.now();
  cut.proxy.pause();
  await waitFor("n1 to fence itself", () => (cut.ownership.owned().length === 0 && (exclusivity.held.get("n1")?.size ?? 0) === 0 ? true : undefined), 3 * TTL_MS);
  const fencedAfter = Date.now() - cutAt;
  assert.ok(fencedAfter < TTL_MS, `fenced only after ${fencedAfter} ms`);
  assert.ok(cut.events.some((e) => e.type === "fenced"));
  // The others (n4 and whoever is alive) take the partitions after the locks expire.
  await waitFor("the others to cover everything", () => {
    const covered = new Set<number>();
    for (const m of alive()) if (m.id !== "n1") for (const p of exclusivity.held.get(m.id) ?? []) covered.add(p);
    return covered.size === P ? true : undefined;
  }, 5 * TTL_MS);
  assert.deepEqual(exclusivity.violations, []);
  cut.proxy.resume();
  await waitForBalance("n1 to rejoin after the partition healed", 20_000);
  assert.deepEqual(exclusivity.violations, []);
});

test("after everyone stops, no lock is left behind", async () => {
  for (const m of alive()) {
    await m.ownership.stop();
    m.dead = true;
  }
  const kv = await new Kvm(admin).open(KV_BUCKETS.partitions);
  const held: string[] = [];
  for (let p = 0; p < P; p++) {
    const e = await kv.get(`p${p}`);
    if (e?.operation === "PUT") held.push(e.string());
  }
  assert.deepEqual(held, []);
  assert.deepEqual(exclusivity.violations, []);
});
