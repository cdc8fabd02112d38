import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { loadConfig } from "../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { partitionsFor } from "../../actors/cluster/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";
import { kill9, sharedNow, spawnTs, terminate, type Child } from "./cluster-helpers/children.ts";

/**
 * Ownership members as separate processes, killed for real. Each prints when it starts and
 * stops consuming a partition; afterwards the merged timeline of all processes is replayed
 * to prove that no partition was consumed by two processes at any instant.
 */

const P = 12;
const TTL = "2s";
const TTL_MS = 2000;
const config = loadConfig({ SLUICE_PARTITIONS: String(P), SLUICE_LEASE_TTL: TTL });
const script = new URL("./cluster-helpers/ownership-child.ts", import.meta.url);

let server: NatsServer;
let admin: NatsConnection;
const children: Child[] = [];

function start(name: string): Child {
  const c = spawnTs(name, script, { NATS_URL: server.url, SLUICE_NODE_ID: name, SLUICE_PARTITIONS: String(P), SLUICE_LEASE_TTL: TTL });
  children.push(c);
  return c;
}

/** What each process consumes now (from its latest lines), dead processes nothing. */
function current(): Map<string, number[]> {
  const held = new Map<string, number[]>();
  for (const c of children) {
    if (c.killedAt !== undefined || c.proc.exitCode !== null) continue;
    const last = [...c.lines].reverse().find((l) => l.ev === "settled");
    held.set(c.name, (last?.set as number[] | undefined) ?? []);
  }
  return held;
}

async function waitForBalance(what: string): Promise<void> {
  await waitFor(what, () => {
    const held = current();
    const ids = [...held.keys()];
    for (const [id, set] of held) if (JSON.stringify(set) !== JSON.stringify(partitionsFor(id, P, ids))) return undefined;
    return true;
  }, 20_000, 50);
}

/** Replay every process's lines in time order; a partition may have one consumer at a time. */
function overlaps(): string[] {
  type Ev = { t: number; name: string; kind: "starting" | "settled" | "killed"; set: number[] };
  const events: Ev[] = [];
  for (const c of children) {
    for (const l of c.lines) if (l.ev === "starting" || l.ev === "settled") events.push({ t: l.t as number, name: c.name, kind: l.ev, set: l.set as number[] });
    if (c.killedAt !== undefined) events.push({ t: c.killedAt, name: c.name, kind: "killed", set: [] });
  }
  events.sort((a, b) => a.t - b.t);
  const held = new Map<string, Set<number>>();
  const problems: string[] = [];
  for (const e of events) {
    if (e.kind === "killed") held.delete(e.name);
    else if (e.kind === "settled") held.set(e.name, new Set(e.set));
    else {
      const mine = held.get(e.name) ?? new Set<number>();
      for (const p of e.set) mine.add(p);
      held.set(e.name, mine);
      for (const [other, set] of held) {
        if (other === e.name) continue;
        for (const p of e.set) if (set.has(p)) problems.push(`partition ${p}: ${e.name} started at ${e.t.toFixed(1)} while ${other} held it`);
      }
    }
  }
  return problems;
}

before(async () => {
  server = await startNatsServer();
  admin = await connect({ servers: server.url });
  await ensureTopology(admin, topologyFor(topologyOptionsFrom(config)));
}, { timeout: 60_000 });

after(async () => {
  await Promise.all(children.map((c) => terminate(c, 3000)));
  await admin?.close();
  await server?.dispose();
}, { timeout: 60_000 });

test("processes share partitions; kill -9, join and SIGTERM never give one partition two consumers", { timeout: 60_000 }, async () => {
  const [a, b, c] = [start("pa"), start("pb"), start("pc")];
  await waitForBalance("3 processes to share all partitions");

  const victimHeld = current().get("pb") ?? [];
  assert.ok(victimHeld.length > 0);
  const killedAt = sharedNow();
  kill9(b);
  await waitForBalance("the killed process's partitions to be taken over");
  const takeoverMs = sharedNow() - killedAt;
  assert.ok(takeoverMs >= TTL_MS - TTL_MS / 3 - 100, `taken over after ${takeoverMs} ms, before its locks expired`);

  start("pd");
  await waitForBalance("a new process to get its share");

  assert.equal(await terminate(a), 0, "SIGTERM exits cleanly after releasing");
  assert.ok(a.lines.some((l) => l.ev === "stopped"));
  const lastOfA = [...a.lines].reverse().find((l) => l.ev === "settled");
  assert.deepEqual(lastOfA?.set, [], "a stopped process consumed nothing at the end");
  await waitForBalance("the stopped process's partitions to move");

  assert.deepEqual(overlaps(), []);
  assert.ok(c.lines.length > 0);
});
