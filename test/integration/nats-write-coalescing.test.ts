import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { coalesceNatsWrites } from "../../protocol/io/nats-write-coalescing.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

// protocol/io/nats-write-coalescing.ts reaches into nats.js's ProtocolHandler. When an upgrade
// renames what it uses, this test fails loudly instead of the gateway silently losing a
// fifth of its throughput.

let server: NatsServer;
const conns: NatsConnection[] = [];
before(async () => {
  server = await startNatsServer("coalescing");
});
after(async () => {
  for (const nc of conns) await nc.close();
  await server.dispose();
});

const open = async (): Promise<NatsConnection> => {
  const nc = await connect({ servers: server.url });
  conns.push(nc);
  return nc;
};

test("the nats.js internals that write coalescing patches are where it expects them", async () => {
  const nc = await open();
  assert.equal(coalesceNatsWrites(nc), true, "nats.js's ProtocolHandler changed: re-check protocol/io/nats-write-coalescing.ts against the new version");
});

test("a coalesced connection delivers every message of a turn, in order, and big bursts at once", async () => {
  const sub = await open();
  const pub = await open();
  assert.equal(coalesceNatsWrites(pub), true);
  const got: number[] = [];
  const subscription = sub.subscribe("coalesce.test", {
    callback: (_e, m) => {
      got.push(Number(m.string().slice(0, 4).trim()));
    },
  });
  await sub.flush();
  // One turn: 2,000 publishes of 100 bytes (past nats.js's 32 KiB threshold, so part is written at once).
  const pad = "x".repeat(96);
  for (let i = 0; i < 2000; i++) pub.publish("coalesce.test", `${i}`.padEnd(4) + pad);
  await pub.flush();
  await waitFor("every message", () => (got.length === 2000 ? true : undefined), 10_000);
  assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => i));
  subscription.unsubscribe();
});
