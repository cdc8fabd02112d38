import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { messages, publish, sendStreamMessages, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

const BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));
let world: DeliveryWorld;
let peer: SmtpPeer;
let child: ChildProcess | undefined;
let node: ActorNode | undefined;
const policies = writePolicies({ domains: { "crash.test": { messagesPerSecond: 40, burst: 5, maxConnections: 3 } } });
const env = () => ({
  SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
  SLUICE_POLICIES: policies.path,
  // A short ack-wait so that JetStream redelivers the dead node's messages within the test.
  SLUICE_ACK_WAIT: "3s",
  SLUICE_PARTITIONS: "4",
  SLUICE_METRICS_PORT: "0",
  SLUICE_SECRET_KEY: "crash-test-secret-key",
});

before(async () => {
  // The peer takes its time, so a kill lands while messages are mid-send.
  peer = await startSmtpPeer({ default: { delayMs: 30 } });
  world = await startWorld(env());
});

after(async () => {
  child?.kill("SIGKILL");
  await node?.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

test("kill -9 of the node mid-send loses nothing: JetStream redelivers to the next node", async (t) => {
  child = spawn(process.execPath, [BIN, "node"], {
    env: { ...process.env, NATS_URL: world.nats.url, SLUICE_LOG_LEVEL: "warn", SLUICE_NODE_ID: "doomed", ...env() },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const total = 400;
  await publish(world, messages(total, (i) => `c${i}@crash.test`));
  await waitFor("the first node delivering", () => (peer.messagesFor("crash.test").length >= 80 ? true : undefined), 30_000, 20);
  child.kill("SIGKILL");
  const killedAt = Date.now();
  const atKill = peer.messagesFor("crash.test").length;
  node = await startNode(world.config, world.logger, world.nc);
  await waitFor("every recipient delivered", () => (new Set(peer.messagesFor("crash.test").map((m) => m.rcptTo[0])).size >= total ? true : undefined), 40_000, 100);
  await waitFor("MAIL_SEND empty", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined), 10_000);
  const received = peer.messagesFor("crash.test").length;
  t.diagnostic(`delivered before the kill: ${atKill}; duplicates after redelivery: ${received - total}`);
  // At-least-once: only what the dead node had sent but not yet acknowledged may arrive
  // twice; nothing is sent twice by the node that took over.
  const firstAt = new Map<string, number>();
  const dupFirstTimes: number[] = [];
  for (const m of peer.messagesFor("crash.test")) {
    const k = m.rcptTo[0] ?? "";
    const first = firstAt.get(k);
    if (first === undefined) firstAt.set(k, m.at);
    else dupFirstTimes.push(first);
  }
  assert.ok(dupFirstTimes.every((at) => at <= killedAt + 100), "a duplicate's first copy came from the killed node");
  assert.ok(received - total < atKill, `${received - total} duplicates of ${atKill} sent before the kill`);
});
