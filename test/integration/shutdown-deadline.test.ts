import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

// A clean shutdown waits for NATS (settling, handing partitions over, draining). With NATS
// gone first, that wait had no end: SIGTERM left the process running. SLUICE_SHUTDOWN_TIMEOUT
// bounds it: the process says so and exits 1.

const BIN = fileURLToPath(new URL("../../bin/sluice.js", import.meta.url));
let nats: NatsServer | undefined;
let child: ChildProcess | undefined;

after(async () => {
  child?.kill("SIGKILL");
  await nats?.dispose();
});

test("SIGTERM after NATS went away: the node gives up its clean shutdown after SLUICE_SHUTDOWN_TIMEOUT and exits 1, saying why", { timeout: 90_000 }, async () => {
  nats = await startNatsServer();
  const lines: string[] = [];
  const proc = spawn(process.execPath, [BIN, "node"], {
    env: { ...process.env, NATS_URL: nats.url, SLUICE_PROFILE: "local", SLUICE_METRICS_PORT: "0", SLUICE_INBOUND_PORT: "0", SLUICE_LOG_LEVEL: "info", SLUICE_SHUTDOWN_TIMEOUT: "2s" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  child = proc;
  let buffered = "";
  proc.stdout?.on("data", (c: Buffer) => {
    buffered += c.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts);
  });
  let exitCode: number | null | undefined;
  proc.on("exit", (code) => (exitCode = code));
  await waitFor("the node to start", () => (lines.some((l) => l.includes('"node started"')) ? true : undefined), 30_000, 50);

  await nats.stop();
  proc.kill("SIGTERM");
  await waitFor("the node to exit", () => (exitCode !== undefined ? true : undefined), 60_000, 50);
  assert.equal(exitCode, 1);
  assert.ok(lines.some((l) => l.includes("shutdown did not finish within SLUICE_SHUTDOWN_TIMEOUT")), "the log says why it exited without a clean shutdown");
});
