// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { loadConfig, statsSubject, subjects, type NodeStats } from "../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";

const run = promisify(execFile);
let server: NatsServer;
let nc: NatsConnection;
let publisher: NodeJS.Timeout | undefined;

/** What a node would publish: gmail.com throttled, example.org sending 10/s. */
function snapshot(nodeId: string, at: number, tick: number): NodeStats {
  return {
    v: 1,
    nodeId,
    at,
    startedAt: at - 60_000,
    partitions: [0, 1, 2, 3],
    rssBytes: 80 * 1048576,
    inFlight: { critical: 0, transactional: 2, bulk: 7 },
    destinations: [
      {
        key: "gmail.com",
        state: "throttled",
        ratePerSecond: 2.5,
        configuredRatePerSecond: 10,
        connections: 1,
        maxConnections: 5,
        queued: { critical: 0, transactional: 1, bulk: 40 },
        delivered: 100,
        deferred: 3,
        bounced: 0,
        throttleEvents: 4,
      },
      {
        key: "example.org",
        state: "sending",
        ratePerSecond: 10,
        configuredRatePerSecond: 10,
        connections: 3,
        maxConnections: 3,
        queued: { critical: 0, transactional: 0, bulk: 5 },
        delivered: tick * 2, // 2 per 200 ms = 10/s
        deferred: 0,
        bounced: 1,
        throttleEvents: 0,
      },
    ],
  };
}

before(async () => {
  server = await startNatsServer("ops-top");
  nc = await connect({ servers: server.url });
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: "4" });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const js = jetstream(nc);
  for (let i = 0; i < 6; i++) await js.publish(subjects.send("bulk", i % 4), JSON.stringify({ test: i }));
  await js.publish(subjects.send("critical", 1), "{}");
  let tick = 0;
  publisher = setInterval(() => {
    tick++;
    nc.publish(statsSubject("node-a"), JSON.stringify(snapshot("node-a", Date.now(), tick)));
    nc.publish(statsSubject("liar"), JSON.stringify({ v: 1, nodeId: "liar", destinations: "lots" }));
  }, 200);
});
after(async () => {
  if (publisher) clearInterval(publisher);
  await nc?.close();
  await server?.dispose();
});

test("sluice top --once shows tiers from JetStream and destinations from node snapshots", async () => {
  const { stdout } = await run(process.execPath, ["bin/sluice.js", "top", "--once"], {
    env: { ...process.env, NATS_URL: server.url },
    timeout: 30_000,
  });
  const lines = stdout.split("\n");
  const row = (prefix: string) => lines.find((l) => l.startsWith(prefix))?.split(/\s+/) ?? [];
  assert.deepEqual(row("bulk").slice(0, 3), ["bulk", "6", "7"], stdout);
  assert.deepEqual(row("critical").slice(0, 3), ["critical", "1", "0"], stdout);
  assert.deepEqual(row("transactional").slice(0, 3), ["transactional", "0", "2"], stdout);
  assert.match(stdout, /1 node\(s\)/);
  assert.doesNotMatch(stdout, /liar/, "an invalid snapshot is ignored");
  const gmail = row("gmail.com");
  assert.equal(gmail[1], "throttled");
  assert.equal(gmail[3], "2.5/10.0", "allowed rate against configured rate");
  assert.equal(gmail[4], "1/5");
  assert.equal(gmail[5], "41");
  const org = row("example.org");
  assert.equal(org[1], "sending");
  const measured = Number(org[2]);
  assert.ok(measured > 5 && measured < 20, `example.org rate ${measured}/s, published at about 10/s`);
  // The tenants' section is there (no tenant has figures in this cluster: the header alone).
  assert.match(stdout, /^TENANT\s+STATUS\s+IN FLIGHT\s+HELD/m, stdout);
});
