import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startMetricsServer, type MetricsServer } from "../../actors/metrics-server.ts";
import type { SourceStats } from "../../protocol/index.ts";
import { startTelemetry } from "../../protocol/telemetry/index.ts";
import { Kvm } from "@nats-io/kv";
import { EGRESS_KV_KEY, encode, KV_BUCKETS } from "../../protocol/index.ts";
import { readWarmupProgress } from "../../cli/commands/policies-egress.ts";
import { WarmupLedger } from "../../actors/egress/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { messages, publish, readEvents, sendStreamMessages, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

// Egress sources and pools (issue 19). On Linux all of 127.0.0.0/8 is on the loopback
// interface, so 127.0.0.2... bind with no set-up; 192.0.2.1 (TEST-NET-1) is on no host.
const START = "2026-01-10";
const lastHourOf = (day: string): number => Date.parse(`${day}T23:30:00Z`);

startTelemetry({ service: "sluice-test", config: { otlpEndpoint: undefined } });
let world: DeliveryWorld;
let metrics: MetricsServer;
let peer: SmtpPeer;
let node: ActorNode;
// The warm-up clock: late in the day, so a day's whole cap is released (sending hours 0-24).
let warmupNow = lastHourOf(START);

const policies = writePolicies({
  defaults: { messagesPerSecond: 1000, burst: 1000, maxConnections: 4 },
  domains: { "split.test": { maxConnections: 3 }, "one.test": { maxConnections: 1 } },
  sources: {
    s2: { address: "127.0.0.2", ehlo: "mta2.test" },
    s3: { address: "127.0.0.3", ehlo: "mta3.test" },
    s4: { address: "127.0.0.4", ehlo: "mta4.test" },
    w1: { address: "127.0.0.5", ehlo: "warm1.test", warmup: { start: START, schedule: [20, 40] } },
    w2: { address: "127.0.0.6", ehlo: "warm2.test" },
    c1: { address: "127.0.0.7", ehlo: "capped.test", warmup: { start: START, schedule: [5, 5] } },
    n1: { address: "127.0.0.8", ehlo: "narrow.test", maxConnections: 1 },
    ghost: { address: "192.0.2.1", ehlo: "ghost.test" },
    v6: { address: "::1", ehlo: "v6.test" },
  },
  pools: { shared: { s2: 2, s3: 1 }, dedicated: { s4: 1 }, warm: { w1: 1, w2: 1 }, solo: { c1: 1 }, flaky: { ghost: 1, s3: 1 }, narrow: { n1: 1 }, mixed: { v6: 1, s3: 1 } },
  tenantPools: { acme2: "dedicated", warmco: "warm", soloco: "solo", badco: "flaky", slowco: "narrow", v6co: "mixed" },
  defaultPool: "shared",
});

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path });
  node = await startNode(world.config, world.logger, world.nc, { warmupClock: () => warmupNow });
  metrics = await startMetricsServer(0, world.logger, "127.0.0.1");
});

after(async () => {
  await metrics?.close();
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

const delivered = (domain: string, count: number) => waitFor(`${count} delivered to ${domain}`, () => (peer.messagesFor(domain).length >= count ? true : undefined), 20_000);
const from = (domain: string, address: string): number => peer.messagesFor(domain).filter((m) => m.remoteAddress === address).length;
const sourceStats = (domain: string, source: string): SourceStats | undefined => node.stats().destinations.find((d) => d.key === domain)?.sources?.find((s) => s.name === source);

test("a 2:1 pool splits about 2:1, each source with its own EHLO name, within the destination's connection cap", async () => {
  await publish(world, messages(300, (i) => `r${i}@split.test`));
  await delivered("split.test", 300);
  const two = from("split.test", "127.0.0.2");
  const three = from("split.test", "127.0.0.3");
  assert.equal(two + three, 300, "every message left from a source of the pool");
  assert.ok(two >= 180 && two <= 220 && three >= 80 && three <= 120, `split ${two}:${three}, not about 200:100`);
  for (const m of peer.messagesFor("split.test")) assert.equal(m.ehlo, m.remoteAddress === "127.0.0.2" ? "mta2.test" : "mta3.test");
  assert.ok((peer.maxConcurrent.get("split.test") ?? 0) <= 3, "the destination's cap is the total over its sources");
  assert.equal(sourceStats("split.test", "s2")?.sent, two);
});

test("the sources of a pool keep to the destination's connection cap together, idle sessions included", async () => {
  await publish(world, messages(12, (i) => `o${i}@one.test`));
  await delivered("one.test", 12);
  assert.ok(from("one.test", "127.0.0.2") > 0 && from("one.test", "127.0.0.3") > 0, "both sources sent");
  assert.equal(peer.maxConcurrent.get("one.test"), 1, "one connection at a time, though each source keeps its own pool");
});

test("a tenant mapped to a dedicated pool never uses the shared pool's sources, nor others its", async () => {
  await publish(world, [...messages(40, (i) => `a${i}@dedicated.test`, { tenant: "acme2" }), ...messages(40, (i) => `o${i}@dedicated.test`, { tenant: "other" })]);
  await delivered("dedicated.test", 80);
  const got = peer.messagesFor("dedicated.test");
  const acme2 = got.filter((m) => m.rcptTo[0]?.startsWith("a"));
  assert.equal(acme2.length, 40);
  assert.deepEqual([...new Set(acme2.map((m) => `${m.remoteAddress} ${m.ehlo}`))], ["127.0.0.4 mta4.test"]);
  assert.ok(got.filter((m) => m.rcptTo[0]?.startsWith("o")).every((m) => m.remoteAddress !== "127.0.0.4"), "the shared tenants stay off the dedicated source");
});

test("a pool with no source free does not hold another pool's mail to the same destination", async () => {
  peer.setBehaviour("hol.test", { delayMs: 50 }); // 100 ms a message: the narrow pool's one connection is the bottleneck
  await publish(world, [...messages(20, (i) => `n${i}@hol.test`, { tenant: "slowco" }), ...messages(20, (i) => `s${i}@hol.test`, { tenant: "other" })]);
  const narrow = () => peer.messagesFor("hol.test").filter((m) => m.remoteAddress === "127.0.0.8").length;
  await waitFor("the other tenant's 20", () => (peer.messagesFor("hol.test").filter((m) => m.rcptTo[0]?.startsWith("s")).length >= 20 ? true : undefined));
  assert.ok(narrow() < 15, `the shared pool's mail went at its own pace, not the narrow pool's (narrow had sent ${narrow()} of 20)`);
  await delivered("hol.test", 40);
  assert.equal(narrow(), 20);
});

test("a source whose address is not on this host is suspended, not the destination; its share goes to its sibling", async () => {
  await publish(world, messages(30, (i) => `b${i}@flaky.test`, { tenant: "badco" }));
  await delivered("flaky.test", 30);
  assert.equal(from("flaky.test", "127.0.0.3"), 30);
  assert.equal(sourceStats("flaky.test", "ghost")?.suspended, true);
  assert.notEqual(node.stats().destinations.find((d) => d.key === "flaky.test")?.state, "suspended");
  const deferred = (await readEvents(world)).filter((e) => e.type === "deferred" && e.rcptTo?.endsWith("@flaky.test"));
  assert.deepEqual(deferred, [], "no attempt was spent on the missing address");
});

test("an IPv6 source cannot reach an IPv4 destination: it is left out there, not blamed on the destination", async () => {
  await publish(world, messages(20, (i) => `v${i}@mixed.test`, { tenant: "v6co" }));
  await delivered("mixed.test", 20);
  assert.equal(from("mixed.test", "127.0.0.3"), 20);
  assert.equal(sourceStats("mixed.test", "v6")?.suspended, true);
  assert.equal(sourceStats("mixed.test", "v6")?.sent, 0);
  assert.notEqual(node.stats().destinations.find((d) => d.key === "mixed.test")?.state, "suspended");
});

test("a pool whose every source reached its warm-up cap makes its mail wait", async () => {
  await publish(world, messages(12, (i) => `c${i}@solo.test`, { tenant: "soloco" }));
  await waitFor("5 delivered and 7 back in JetStream", async () => (peer.messagesFor("solo.test").length === 5 && (await sendStreamMessages(world)) === 7 ? true : undefined), 20_000, 100);
  assert.deepEqual(sourceStats("solo.test", "c1")?.warmup, { day: 0, cap: 5, used: 5, remaining: 0 });
});

test("a source at its warm-up cap overflows to its sibling the same day; the next day raises its cap", async () => {
  await publish(world, messages(120, (i) => `w${i}@warm.test`, { tenant: "warmco" }));
  await delivered("warm.test", 120);
  assert.equal(from("warm.test", "127.0.0.5"), 20, "day 0: the capped source sent its cap");
  assert.equal(from("warm.test", "127.0.0.6"), 100, "the rest overflowed to its sibling, at once");
  warmupNow = lastHourOf("2026-01-11");
  await publish(world, messages(120, (i) => `x${i}@warm.test`, { tenant: "warmco" }));
  await delivered("warm.test", 240);
  assert.equal(from("warm.test", "127.0.0.5"), 20 + 40, "day 1: a cap of 40");
  assert.deepEqual(sourceStats("warm.test", "w1")?.warmup, { day: 1, cap: 40, used: 40, remaining: 0 });
  // What `sluice policies` reads: the cluster-wide counter of today.
  const book = { sources: { w1: { address: "127.0.0.5", ehlo: "warm1.test", warmup: { start: START, schedule: [20, 40] } } } };
  assert.deepEqual(await readWarmupProgress(world.nc, book, warmupNow), [{ source: "w1", group: "warm.test", day: 1, cap: 40, used: 40, remaining: 0 }]);
});

test("a tenant mapped to a pool live, with the _egress entry in sluice_policies, sends from it without a restart", async () => {
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.policies);
  await kv.put(EGRESS_KV_KEY, encode({ tenantPools: { late: "dedicated" } }));
  // The node applies the entry when its watch sees it: probe until a message of the tenant leaves from the dedicated source.
  let probes = 0;
  await waitFor("the live mapping in force", async () => {
    await publish(world, messages(1, () => `p${probes}@probe.test`, { tenant: "late" }));
    await delivered("probe.test", ++probes);
    return peer.messagesFor("probe.test").at(-1)?.remoteAddress === "127.0.0.4" ? true : undefined;
  });
  await publish(world, messages(10, (i) => `l${i}@late.test`, { tenant: "late" }));
  await delivered("late.test", 10);
  assert.deepEqual([...new Set(peer.messagesFor("late.test").map((m) => m.remoteAddress))], ["127.0.0.4"]);
});

test("warm-up is counted cluster-wide: two nodes' ledgers spending one source's cap together never pass it, and hand back what they did not use", async () => {
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.warmup);
  const plan = { start: START, schedule: [30] };
  const ledgers = [0, 1].map(() => new WarmupLedger({ kv, now: () => lastHourOf(START), logger: world.logger }));
  const spent = [0, 0];
  // Each "node" sends as fast as its ledger allows, waiting only for its reservations.
  await Promise.all(
    ledgers.map(async (ledger, i) => {
      for (;;) {
        const c = ledger.check("shared-ip", plan, "both.test");
        if (c.kind === "capped") return;
        if (c.kind === "pending") await c.until;
        else {
          ledger.take("shared-ip", plan, "both.test");
          spent[i] = (spent[i] ?? 0) + 1;
        }
      }
    }),
  );
  assert.equal((spent[0] ?? 0) + (spent[1] ?? 0), 30, `spent ${spent.join(" + ")}`);
  assert.ok((spent[0] ?? 0) > 0 && (spent[1] ?? 0) > 0, "both took part");
  // A third reserves a block, uses one, and stops: the rest goes back to the counter.
  const other = new WarmupLedger({ kv, now: () => lastHourOf(START), logger: world.logger });
  const plan2 = { start: START, schedule: [100] };
  for (let c = other.check("ip9", plan2, "g.test"); c.kind !== "ok"; c = other.check("ip9", plan2, "g.test")) {
    if (c.kind === "capped") assert.fail("a fresh counter is not capped");
    await c.until;
  }
  other.take("ip9", plan2, "g.test");
  await other.close();
  assert.equal(Number((await kv.get(`ip9.g.test.${START}`))?.string()), 1);
});

test("/metrics: messages per source and destination, suspensions, and each warming source's day, cap and what is left", async () => {
  const text = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
  const value = (name: string, labels: string): number | undefined => {
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && labels.split(",").every((kv) => l.includes(kv)));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  assert.equal(value("sluice_source_messages_total", 'source="s2",destination="split.test"'), from("split.test", "127.0.0.2"));
  assert.equal(value("sluice_source_suspended_total", 'source="ghost"'), 1);
  assert.equal(value("sluice_source_warmup_day", 'source="w1",destination="warm.test"'), 1);
  assert.equal(value("sluice_source_warmup_cap", 'source="w1",destination="warm.test"'), 40);
  assert.equal(value("sluice_source_warmup_remaining", 'source="w1",destination="warm.test"'), 0);
});
