/**
 * Cluster benchmark (issue 6), on this machine:
 *   1. delivery throughput with 1, 2 and 3 actor nodes (separate processes) sharing the
 *      partitions, into one SMTP peer that accepts everything;
 *   2. time from a node's kill -9 until mail of its partitions is delivered again.
 * Every node runs on the same cores as NATS and the SMTP peer: on a 2-core machine more
 * nodes measure the cost of coordination and contention, not a speed-up.
 *
 * Run: node --import tsx bench/cluster.bench.ts
 *   BENCH_MESSAGES=10000 BENCH_DOMAINS=50 BENCH_NODES=1,2,3 BENCH_SERVERS=1 BENCH_TTLS=15s,5s
 */
import { partitionOf } from "../protocol/index.ts";
import { waitFor } from "../test/harness/ports.ts";
import { kill9 } from "../test/integration/cluster-helpers/children.ts";
import { mail, publishAll, receipts, startClusterWorld, waitForOwners, type ClusterWorld } from "../test/integration/cluster-helpers/world.ts";

const env = process.env;
const MESSAGES = Number(env.BENCH_MESSAGES ?? 10_000);
const DOMAINS = Number(env.BENCH_DOMAINS ?? 50);
const NODES = (env.BENCH_NODES ?? "1,2,3").split(",").filter((n) => n !== "").map(Number);
const SERVERS = (Number(env.BENCH_SERVERS ?? 1) === 3 ? 3 : 1) as 1 | 3;
const TTLS = (env.BENCH_TTLS ?? "15s,5s").split(",").filter((t) => t !== "");
const PARTITIONS = "32";
const POLICY = { defaults: { messagesPerSecond: 100_000, burst: 100_000, maxConnections: 4, maxMessagesPerConnection: 10_000 } };

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `bench-${i + 1}`);

async function throughput(nodes: number): Promise<{ nodes: number; seconds: number; perSecond: number; publishSeconds: number }> {
  const world = await startClusterWorld({ servers: SERVERS, env: { SLUICE_PARTITIONS: PARTITIONS, SLUICE_LEASE_TTL: "5s" }, policy: POLICY });
  try {
    for (const id of ids(nodes)) world.startNode(id);
    await waitForOwners(world, ids(nodes), 90_000);
    const t0 = Date.now();
    await publishAll(world.js, world.config.partitions, mail(MESSAGES, DOMAINS));
    const publishSeconds = (Date.now() - t0) / 1000;
    await waitFor("delivery", () => (receipts(world.peer).size >= MESSAGES ? true : undefined), 600_000, 100);
    const times = world.peer.messages.map((m) => m.at);
    const seconds = (Math.max(...times) - Math.min(...times)) / 1000;
    return { nodes, seconds, perSecond: Math.round(MESSAGES / seconds), publishSeconds };
  } finally {
    await world.dispose();
  }
}

async function crashRecovery(ttl: string): Promise<Record<string, unknown>> {
  const world: ClusterWorld = await startClusterWorld({ servers: SERVERS, env: { SLUICE_PARTITIONS: PARTITIONS, SLUICE_LEASE_TTL: ttl, SLUICE_ACK_WAIT: "10s" }, policy: POLICY });
  try {
    const names = ids(3);
    for (const id of names) world.startNode(id);
    const owners = await waitForOwners(world, names, 90_000);
    const victimPartitions = new Set(owners.get("bench-2") ?? []);
    const list = mail(MESSAGES, DOMAINS);
    await publishAll(world.js, world.config.partitions, list);
    await waitFor("some delivery", () => (world.peer.messages.length >= MESSAGES / 5 ? true : undefined), 120_000, 20);
    const victim = world.nodes[1];
    if (!victim) throw new Error("no victim");
    kill9(victim);
    const killedAt = Date.now();
    const ofVictim = (rcpt: string | undefined): boolean => rcpt !== undefined && victimPartitions.has(partitionOf(rcpt.slice(rcpt.indexOf("@") + 1), world.config.partitions));
    const again = await waitFor("the victim's partitions to deliver again", () => world.peer.messages.find((m) => m.at > killedAt + 20 && ofVictim(m.rcptTo[0]))?.at, 120_000, 20);
    const pending = list.filter((m) => ofVictim(m.rcptTo)).length;
    await waitFor("delivery", () => (receipts(world.peer).size >= MESSAGES ? true : undefined), 600_000, 100);
    return { ttl, victimPartitions: victimPartitions.size, victimMessages: pending, crashToDeliveringAgainSeconds: (again - killedAt) / 1000 };
  } finally {
    await world.dispose();
  }
}

const results: unknown[] = [];
for (const n of NODES) {
  const r = await throughput(n);
  results.push(r);
  process.stdout.write(`throughput  nodes=${r.nodes}  ${r.perSecond} msg/s  (${MESSAGES} messages in ${r.seconds.toFixed(1)} s; publish took ${r.publishSeconds.toFixed(1)} s)\n`);
}
for (const ttl of TTLS) {
  const r = await crashRecovery(ttl);
  results.push(r);
  process.stdout.write(`crash       lease TTL ${ttl}: the killed node's ${String(r.victimPartitions)} partitions delivered again ${String(r.crashToDeliveringAgainSeconds)} s after kill -9\n`);
}
process.stdout.write(JSON.stringify({ servers: SERVERS, messages: MESSAGES, domains: DOMAINS, results }) + "\n");
