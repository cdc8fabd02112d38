import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { readClusterStatus } from "../../../actors/cluster/index.ts";
import {
  encode,
  KV_BUCKETS,
  loadConfig,
  newId,
  partitionOf,
  recipientId,
  sendConsumerName,
  STREAMS,
  subjects,
  TIERS,
  type Config,
  type DeliveryMessageInput,
  type EnvName,
  type TierName,
} from "../../../protocol/index.ts";
import { createApiKey } from "../../../protocol/io/index.ts";
import { startNatsCluster, startNatsServer, type NatsServer } from "../../harness/nats-server.ts";
import { startSmtpPeer, type SmtpPeer } from "../../harness/smtp-peer.ts";
import { freePort, waitFor } from "../../harness/ports.ts";
import { spawnTs, type Child } from "./children.ts";
import { ensureTopologyOnFreshCluster } from "./topology.ts";

/**
 * A whole Sluice deployment for crash tests: real nats-server(s), a scripted SMTP peer that
 * every route points to, a policy file, and actor nodes as child processes
 * (`node --import tsx cli/main.ts node`), each a separate OS process that can be killed.
 */
export interface ClusterWorld {
  servers: (NatsServer & { crash(): Promise<void> })[];
  urls: string[];
  nc: NatsConnection;
  js: JetStreamClient;
  config: Config;
  peer: SmtpPeer;
  env: Record<string, string>;
  nodes: Child[];
  startNode(id: string, extra?: Record<string, string>): Child;
  dispose(): Promise<void>;
}

export const MAX_CONNECTIONS = 3;
const CLI = new URL("../../../cli/main.ts", import.meta.url);

export async function startClusterWorld(o: { servers: 1 | 3; env: Partial<Record<EnvName, string>>; policy?: object }): Promise<ClusterWorld> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-cluster-test-"));
  const cluster = o.servers === 3 ? await startNatsCluster(3) : undefined;
  const single = o.servers === 1 ? await startNatsServer() : undefined;
  const servers = cluster ? cluster.servers : [single as NatsServer & { crash(): Promise<void> }];
  const urls = servers.map((s) => s.url);
  const peer = await startSmtpPeer();
  const policyFile = join(dir, "policies.json");
  writeFileSync(
    policyFile,
    JSON.stringify(o.policy ?? { defaults: { messagesPerSecond: 2000, burst: 2000, maxConnections: MAX_CONNECTIONS, maxMessagesPerConnection: 1000 } }),
  );
  const env: Record<string, string> = {
    NATS_URL: urls.join(","),
    SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
    SLUICE_POLICIES: policyFile,
    SLUICE_REPLICAS: String(o.servers),
    SLUICE_LOG_LEVEL: process.env.TEST_LOG ? "info" : "warn",
    SLUICE_DATA_DIR: dir,
    SLUICE_METRICS_PORT: "0",
    SLUICE_SECRET_KEY: "cluster-test-secret-key",
    SLUICE_REQUIRE_VERIFIED_DOMAINS: "0",
    ...(o.env as Record<string, string>),
  };
  const config = loadConfig({}, env as Partial<Record<EnvName, string>>);
  const nc = await connect({ servers: urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  await ensureTopologyOnFreshCluster(nc, config);
  const nodes: Child[] = [];
  return {
    servers,
    urls,
    nc,
    js: jetstream(nc),
    config,
    peer,
    env,
    nodes,
    startNode(id, extra = {}) {
      const child = spawnTs(id, CLI, { ...env, SLUICE_NODE_ID: id, ...extra }, ["node"]);
      nodes.push(child);
      return child;
    },
    async dispose() {
      // TEST_DUMP_DIR=/some/dir keeps each child's log lines (pino JSON on stdout) for a post-mortem.
      if (process.env.TEST_DUMP_DIR) for (const n of nodes) writeFileSync(join(process.env.TEST_DUMP_DIR, `${n.name}.log`), n.lines.map((l) => JSON.stringify(l)).join("\n"));
      for (const n of nodes) if (n.proc.exitCode === null && n.proc.signalCode === null) n.proc.kill("SIGKILL");
      await Promise.all(nodes.map((n) => n.exited));
      await nc.close().catch(() => undefined);
      await peer.close();
      if (cluster) await cluster.dispose();
      else await single?.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `count` recipients spread over `domains` domains (d0.test, d1.test, ...). */
export function mail(count: number, domains: number, tier: TierName = "transactional"): DeliveryMessageInput[] {
  const requestId = newId();
  return Array.from({ length: count }, (_, i) => ({
    v: 1 as const,
    id: recipientId(requestId, i),
    requestId,
    tenant: "acme",
    tier,
    mailFrom: "bounces@sender.test",
    rcptTo: `user${i}@d${i % domains}.test`,
    payload: { inline: { from: { address: "news@sender.test" }, subject: "Crash test", text: `message ${i}` } },
    createdAt: Date.now(),
  }));
}

/** Publish to MAIL_SEND on the right (tier, partition), pipelined, retrying what was not acknowledged. */
export async function publishAll(js: JetStreamClient, partitions: number, list: DeliveryMessageInput[]): Promise<void> {
  const one = async (m: DeliveryMessageInput): Promise<void> => {
    const domain = m.rcptTo.slice(m.rcptTo.lastIndexOf("@") + 1);
    for (let attempt = 0; ; attempt++) {
      try {
        await js.publish(subjects.send(m.tier, partitionOf(domain, partitions)), encode(m), { msgID: m.id, timeout: 3000 });
        return;
      } catch (e) {
        if (attempt >= 40) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  for (let i = 0; i < list.length; i += 500) await Promise.all(list.slice(i, i + 500).map(one));
}

/**
 * Message id → receipt times at the peer (the Message-ID header starts with the recipient
 * id). Incremental: only messages that arrived since the last call are parsed, and only
 * their header block, so that polling it does not starve the peer of CPU.
 */
const parsed = new WeakMap<SmtpPeer, { seen: number; ids: Map<string, number[]> }>();
export function receipts(peer: SmtpPeer): Map<string, number[]> {
  const state = parsed.get(peer) ?? { seen: 0, ids: new Map<string, number[]>() };
  parsed.set(peer, state);
  for (; state.seen < peer.messages.length; state.seen++) {
    const m = peer.messages[state.seen];
    if (!m) break;
    const head = m.raw.subarray(0, Math.min(m.raw.length, 4096)).toString("latin1");
    const id = /^Message-ID: <([^.>]+)/im.exec(head)?.[1] ?? `?${m.rcptTo[0]}`;
    const list = state.ids.get(id) ?? [];
    list.push(m.at);
    state.ids.set(id, list);
  }
  return state.ids;
}

/** Wait until the live nodes named own every partition between them. */
export async function waitForOwners(world: ClusterWorld, ids: string[], timeoutMs = 45_000): Promise<Map<string, number[]>> {
  return waitFor(`nodes ${ids.join(",")} to own every partition`, async () => {
    const status = await readClusterStatus(world.nc, world.config.partitions);
    if (status.unowned.length > 0) return undefined;
    const owners = new Map(status.nodes.filter((n) => n.partitions.length > 0).map((n) => [n.id, n.partitions]));
    if (owners.size !== ids.length || !ids.every((id) => owners.has(id))) return undefined;
    return owners;
  }, timeoutMs, 200);
}

/** Messages the given partitions' consumers have handed out and not had acknowledged. */
export async function ackPending(world: ClusterWorld, partitions: number[]): Promise<number> {
  const jsm = await jetstreamManager(world.nc);
  let n = 0;
  for (const p of partitions) for (const tier of TIERS) n += (await jsm.consumers.info(STREAMS.send, sendConsumerName(tier, p))).num_ack_pending;
  return n;
}

export async function sendQueueEmpty(world: ClusterWorld): Promise<boolean> {
  const jsm = await jetstreamManager(world.nc);
  return (await jsm.streams.info(STREAMS.send)).state.messages === 0;
}

/** `sluice gateway` as a child process on a free port, and an API key for tenant acme. */
export async function startGatewayProcess(world: ClusterWorld): Promise<{ url: string; key: string; child: Child }> {
  const port = await freePort();
  const child = spawnTs("gateway", CLI, { ...world.env, SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: String(port) }, ["gateway"]);
  world.nodes.push(child); // killed with the rest on dispose
  const url = `http://127.0.0.1:${port}`;
  await waitFor("the gateway to be ready", async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined), 45_000, 200);
  const { key } = await createApiKey(await new Kvm(world.nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["send"] });
  return { url, key, child };
}

/** POST one single-recipient message; the recipient id on 202, else the status. */
/**
 * One message over HTTP. A client that retries a 503 or a dropped connection sends an
 * Idempotency-Key: a 503 can come after the message was stored (its JetStream ack lost in a
 * leader change), and only the key makes the retry the same message instead of a second one.
 */
export async function postMessage(url: string, key: string, to: string, idempotencyKey?: string, tier: TierName = "transactional"): Promise<{ status: number; id?: string; code?: string }> {
  try {
    const res = await fetch(`${url}/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${key}`,
        ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
      },
      body: JSON.stringify({ from: "news@acme.test", to: [to], subject: "Hi", text: "Hello", tier }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json()) as { recipients?: { id: string }[]; error?: { code: string } };
    return res.status === 202 ? { status: 202, id: body.recipients?.[0]?.id } : { status: res.status, code: body.error?.code };
  } catch {
    return { status: 0 };
  }
}
