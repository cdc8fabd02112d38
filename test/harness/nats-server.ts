import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { freePort, waitFor } from "./ports.ts";

/**
 * Real nats-server processes for tests: ephemeral ports, a temporary store directory,
 * and a watchdog shell per server that kills it and removes its files if the test
 * process dies without cleaning up (a timeout, a crash, kill -9).
 */

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly storeDir: string;
  /** Stop (SIGTERM, wait for exit). Files are kept so that `start()` restarts the same server. */
  stop(): Promise<void>;
  /** Start again on the same port and store after `stop()`. */
  start(): Promise<void>;
  /** Stop and remove every file. */
  dispose(): Promise<void>;
  running(): boolean;
  /** The server's process id while it runs (benchmarks read its CPU time from /proc). */
  readonly pid: number | undefined;
}

const BINARY = process.env.NATS_SERVER_BIN ?? "nats-server";
export const natsServerAvailable = (): boolean => {
  try {
    execFileSync(BINARY, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/** A plan's port before the server has chosen one (`listen: -1`). */
const EPHEMERAL = 0;

interface ServerPlan {
  name: string;
  port: number;
  dir: string;
  configFile: string;
}

class ServerProcess implements NatsServer {
  #child: ChildProcess | undefined;

  get pid(): number | undefined {
    return this.running() ? this.#child?.pid : undefined;
  }
  #watchdog: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(private readonly plan: ServerPlan) {}

  get url(): string {
    return `nats://127.0.0.1:${this.plan.port}`;
  }
  get port(): number {
    return this.plan.port;
  }
  get name(): string {
    return this.plan.name;
  }
  get storeDir(): string {
    return join(this.plan.dir, "store");
  }
  running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const child = spawn(BINARY, ["-c", this.plan.configFile], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    this.#watchdog?.kill("SIGKILL");
    // If this test process disappears, the watchdog takes the server and its files with it.
    this.#watchdog = spawn(
      "sh",
      ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${child.pid} 2>/dev/null; rm -rf '${this.plan.dir}'`],
      { detached: true, stdio: "ignore" },
    );
    this.#watchdog.unref();
    if (this.plan.port === EPHEMERAL) await this.#learnPort(child, () => stderr);
    await waitFor(`nats-server ${this.plan.name} on port ${this.plan.port}`, async () => {
      if (!this.running()) throw new Error(`nats-server exited: ${stderr}`);
      const nc = await connect({ servers: this.url, reconnect: false, timeout: 1000 });
      try {
        return (await nc.rtt()) >= 0 ? true : undefined;
      } finally {
        await nc.close();
      }
    });
  }

  /**
   * The server chose its own port (`listen: -1`) and wrote it to its ports file: no window
   * in which another process can take a port we picked and released. The config is then
   * rewritten with that port, so a restart comes back where clients reconnect.
   */
  async #learnPort(child: ChildProcess, stderr: () => string): Promise<void> {
    const file = join(this.plan.dir, `${basename(BINARY)}_${child.pid}.ports`);
    const ports = await waitFor(`the ports file of nats-server ${this.plan.name}`, () => {
      if (!this.running()) throw new Error(`nats-server exited: ${stderr()}`);
      if (!existsSync(file)) return undefined;
      const text = readFileSync(file, "utf8");
      return text.trim() === "" ? undefined : (JSON.parse(text) as { nats?: string[] });
    });
    const port = Number(new URL(ports.nats?.[0] ?? "").port);
    if (!Number.isInteger(port) || port <= 0) throw new Error(`nats-server ${this.plan.name} wrote no client port: ${JSON.stringify(ports)}`);
    this.plan.port = port;
    writeFileSync(this.plan.configFile, serverConfig(this.plan));
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running()) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** kill -9: no flush, no goodbye. */
  async crash(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running()) return;
    child.kill("SIGKILL");
    await this.#exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.#watchdog?.kill("SIGKILL");
    rmSync(this.plan.dir, { recursive: true, force: true });
  }
}

function serverConfig(plan: ServerPlan, cluster?: { name: string; port: number; routes: number[] }): string {
  const lines = [
    `server_name: ${plan.name}`,
    `listen: 127.0.0.1:${plan.port === EPHEMERAL ? -1 : plan.port}`,
    `ports_file_dir: "${plan.dir}"`,
    `jetstream { store_dir: "${join(plan.dir, "store")}", max_memory_store: 256MB, max_file_store: 4GB }`,
  ];
  if (cluster) {
    const routes = cluster.routes.map((p) => `nats-route://127.0.0.1:${p}`).join(", ");
    lines.push(`cluster { name: ${cluster.name}, listen: 127.0.0.1:${cluster.port}, routes: [${routes}] }`);
  }
  return lines.join("\n") + "\n";
}

function plan(name: string, port: number): ServerPlan {
  const dir = mkdtempSync(join(tmpdir(), "sluice-nats-"));
  return { name, port, dir, configFile: join(dir, "nats.conf") };
}

async function waitForJetStream(urls: string[]): Promise<void> {
  await waitFor("JetStream to be ready", async () => {
    const nc = await connect({ servers: urls, reconnect: false, timeout: 1000 });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2000 });
      await jsm.getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  }, 30_000, 250);
}

/** One JetStream-enabled server on an ephemeral port. */
export async function startNatsServer(name = "sluice-test"): Promise<NatsServer & { crash(): Promise<void> }> {
  const p = plan(name, EPHEMERAL);
  writeFileSync(p.configFile, serverConfig(p));
  const server = new ServerProcess(p);
  await server.start();
  await waitForJetStream([server.url]);
  return server;
}

export interface NatsCluster {
  servers: (NatsServer & { crash(): Promise<void> })[];
  urls: string[];
  dispose(): Promise<void>;
}

/**
 * A JetStream cluster of `size` servers (3 by default) on ephemeral ports. Here the ports
 * are picked before the servers start: nats-server 2.9 will not start JetStream in a
 * cluster without configured routes, so each server must know the others' route ports.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    routePorts.push(await freePort());
  }
  const servers = clientPorts.map((port, i) => {
    const p = plan(`sluice-test-${i + 1}`, port);
    const routePort = routePorts[i] as number;
    writeFileSync(p.configFile, serverConfig(p, { name: "sluice-test", port: routePort, routes: routePorts.filter((r) => r !== routePort) }));
    return new ServerProcess(p);
  });
  await Promise.all(servers.map((s) => s.start()));
  const urls = servers.map((s) => s.url);
  await waitForJetStream(urls);
  return {
    servers,
    urls,
    dispose: async () => {
      await Promise.all(servers.map((s) => s.dispose()));
    },
  };
}

export const dirExists = existsSync;
