import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { STREAMS } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { postMessage, receipts, sendQueueEmpty, startClusterWorld, startGatewayProcess, waitForOwners, type ClusterWorld } from "./cluster-helpers/world.ts";

/**
 * A gateway process and two node processes on a 3-server NATS cluster (R3). While mail is
 * being accepted over HTTP and delivered by SMTP, the server leading MAIL_SEND is stopped.
 * Both keep going, and every message the gateway acknowledged with 202 is delivered.
 */

const TOTAL = 1500;
let world: ClusterWorld;

before(async () => {
  world = await startClusterWorld({ servers: 3, env: { SLUICE_PARTITIONS: "4", SLUICE_LEASE_TTL: "6s", SLUICE_ACK_WAIT: "15s" } });
}, { timeout: 60_000 });

after(async () => {
  await world?.dispose();
}, { timeout: 60_000 });

test("one of 3 NATS servers stops during ingestion and delivery: both continue, nothing accepted is lost", { timeout: 85_000 }, async (t) => {
  world.startNode("node-1");
  world.startNode("node-2");
  const gateway = await startGatewayProcess(world);
  await waitForOwners(world, ["node-1", "node-2"]);

  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  let stoppedAt = 0;
  let next = 0;
  // 16 clients; each retries a refused request (503, a dropped connection, or its own earlier
  // try still in progress) under the same Idempotency-Key, as a client should.
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < TOTAL; i = next++) {
        for (let attempt = 0; ; attempt++) {
          const r = await postMessage(gateway.url, gateway.key, `user${i}@d${i % 12}.test`, `failover-${i}`);
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 202 && r.id) {
            accepted.push(r.id);
            break;
          }
          assert.ok(r.status === 503 || r.status === 0 || r.code === "idempotency_in_progress", `unexpected status ${r.status} ${r.code ?? ""}`);
          assert.ok(attempt < 100, "the gateway never recovered");
          await new Promise((res) => setTimeout(res, 200));
        }
        if (i === Math.floor(TOTAL / 3) && stoppedAt === 0) {
          stoppedAt = Date.now();
          const info = await (await jetstreamManager(world.nc)).streams.info(STREAMS.send);
          const leader = world.servers.find((s) => s.name === info.cluster?.leader);
          assert.ok(leader);
          void leader.stop();
        }
      }
    }),
  );
  assert.ok(stoppedAt > 0);
  assert.equal(new Set(accepted).size, TOTAL, "each message accepted once, under one id");

  await waitFor("every accepted message to be delivered", () => (accepted.every((id) => receipts(world.peer).has(id)) ? true : undefined), 60_000, 200);
  await waitFor("MAIL_SEND to be empty", async () => ((await sendQueueEmpty(world)) ? true : undefined), 30_000, 200);
  const got = receipts(world.peer);
  const twice = [...got.values()].filter((times) => times.length > 1).length;
  t.diagnostic(JSON.stringify({ accepted: accepted.length, delivered: got.size, twice, statuses: Object.fromEntries(statuses) }));
  assert.equal(got.size, TOTAL, "nothing but the accepted messages arrived, each at least once");
  for (const n of world.nodes) assert.equal(n.proc.exitCode, null, `${n.name} kept running`);
});
