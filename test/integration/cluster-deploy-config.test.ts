import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { freePort, waitFor } from "../harness/ports.ts";

/**
 * The configurations shipped in deploy/nats form a working 3-server JetStream cluster:
 * each file is run as written, with only its ports, store directory and the route host
 * names rewritten for one machine (as deploy/README.md shows).
 */

const dir = mkdtempSync(join(tmpdir(), "sluice-deploy-test-"));
const servers: ChildProcess[] = [];

after(async () => {
  for (const s of servers) s.kill("SIGKILL");
  await Promise.all(servers.map((s) => (s.exitCode === null && s.signalCode === null ? new Promise((r) => s.once("exit", r)) : undefined)));
  rmSync(dir, { recursive: true, force: true });
});

test("deploy/nats/nats-{1,2,3}.conf form a JetStream cluster that keeps an R3 stream", { timeout: 60_000 }, async () => {
  const client = await Promise.all([1, 2, 3].map(() => freePort()));
  const route = await Promise.all([1, 2, 3].map(() => freePort()));
  const monitor = await Promise.all([1, 2, 3].map(() => freePort()));
  for (const i of [1, 2, 3]) {
    const source = readFileSync(new URL(`../../deploy/nats/nats-${i}.conf`, import.meta.url), "utf8");
    const conf = source
      .replace("0.0.0.0:4222", `127.0.0.1:${client[i - 1]}`)
      .replace("0.0.0.0:6222", `127.0.0.1:${route[i - 1]}`)
      .replace("0.0.0.0:8222", `127.0.0.1:${monitor[i - 1]}`)
      .replace("/var/lib/nats/jetstream", join(dir, `store-${i}`))
      .replace(/nats-route:\/\/nats-([123]):6222/g, (_, n: string) => `nats-route://127.0.0.1:${route[Number(n) - 1]}`);
    assert.notEqual(conf, source);
    const file = join(dir, `nats-${i}.conf`);
    writeFileSync(file, conf);
    const child = spawn("nats-server", ["-c", file], { stdio: "ignore" });
    servers.push(child);
    // The harness's watchdog is not used here: kill the server if this process dies.
    spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null`], { detached: true, stdio: "ignore" }).unref();
  }
  const urls = client.map((p) => `nats://127.0.0.1:${p}`);
  const nc = await waitFor("the cluster to accept connections", () => connect({ servers: urls, reconnect: false, timeout: 1000 }), 20_000, 250);
  try {
    // A new cluster accepts clients before it has elected its JetStream meta leader.
    const jsm = await waitFor("JetStream to answer", () => jetstreamManager(nc, { timeout: 2000 }), 30_000, 500);
    await waitFor("an R3 stream to be created", async () => (await jsm.streams.add({ name: "DEPLOY_R3", subjects: ["deploy.>"], num_replicas: 3 })) && true, 30_000, 500);
    await jetstream(nc).publish("deploy.x", "hello");
    const info = await jsm.streams.info("DEPLOY_R3");
    assert.equal(info.cluster?.name, "sluice");
    assert.equal((info.cluster?.replicas?.length ?? 0) + 1, 3);
    assert.equal(info.state.messages, 1);
  } finally {
    await nc.close();
  }
});
