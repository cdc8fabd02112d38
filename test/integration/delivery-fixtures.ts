import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pino from "pino";
import {
  decode,
  encode,
  loadConfig,
  MailEvent,
  DeadLetter,
  newId,
  partitionOf,
  recipientId,
  STREAMS,
  subjects,
  type Config,
  type DeliveryMessageInput,
  type EnvName,
  type Payload,
  type TierName,
} from "../../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";

/** Shared set-up of the delivery integration tests: a real nats-server, a config, a publisher. */
export interface DeliveryWorld {
  nats: NatsServer & { crash(): Promise<void> };
  nc: NatsConnection;
  js: JetStreamClient;
  config: Config;
  logger: pino.Logger;
  dispose(): Promise<void>;
}

export async function startWorld(env: Partial<Record<EnvName, string>>): Promise<DeliveryWorld> {
  const nats = await startNatsServer("sluice-delivery-test");
  const config = loadConfig({}, { NATS_URL: nats.url, SLUICE_PARTITIONS: "4", SLUICE_ACK_WAIT: "30s", SLUICE_LOG_LEVEL: "warn", SLUICE_NODE_ID: `test-${process.pid}`, SLUICE_REQUIRE_VERIFIED_DOMAINS: "0", ...env });
  const nc = await connect({ servers: nats.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" });
  return {
    nats,
    nc,
    js: jetstream(nc),
    config,
    logger,
    dispose: async () => {
      await nc.close().catch(() => undefined);
      await nats.dispose();
    },
  };
}

export const PAYLOAD: Payload = { from: { address: "news@sender.test" }, subject: "Hello {{name}}", text: "Hi {{name}}, this is a test." };
export const PLAIN: Payload = { from: { address: "news@sender.test" }, subject: "Plain", text: "No variables here." };

export function message(rcptTo: string, o: { tier?: TierName; tenant?: string; createdAt?: number; requestId?: string; index?: number; payload?: Payload; vars?: Record<string, string> } = {}): DeliveryMessageInput {
  const requestId = o.requestId ?? newId();
  return {
    v: 1,
    id: recipientId(requestId, o.index ?? 0),
    requestId,
    tenant: o.tenant ?? "acme",
    tier: o.tier ?? "transactional",
    mailFrom: "bounces@sender.test",
    rcptTo,
    payload: { inline: o.payload ?? PLAIN },
    ...(o.vars ? { vars: o.vars } : {}),
    createdAt: o.createdAt ?? Date.now(),
  };
}

/** Many recipients of one request: ids share the request id. */
export function messages(count: number, rcpt: (i: number) => string, o: Parameters<typeof message>[1] = {}): DeliveryMessageInput[] {
  const requestId = o.requestId ?? newId();
  return Array.from({ length: count }, (_, i) => message(rcpt(i), { ...o, requestId, index: i }));
}

/** Publish to MAIL_SEND on the right (tier, partition), pipelined. */
export async function publish(world: DeliveryWorld, list: DeliveryMessageInput[]): Promise<void> {
  const chunk = 2000;
  for (let i = 0; i < list.length; i += chunk) {
    await Promise.all(
      list.slice(i, i + chunk).map((m) => {
        const domain = m.rcptTo.slice(m.rcptTo.lastIndexOf("@") + 1);
        return world.js.publish(subjects.send(m.tier, partitionOf(domain, world.config.partitions)), encode(m), { msgID: m.id });
      }),
    );
  }
}

/** Two domains that hash to the same partition. */
export function samePartitionDomains(partitions: number, count: number, prefix = "d"): string[] {
  const byPartition = new Map<number, string[]>();
  for (let i = 0; ; i++) {
    const d = `${prefix}${i}.test`;
    const p = partitionOf(d, partitions);
    const list = byPartition.get(p) ?? [];
    list.push(d);
    byPartition.set(p, list);
    if (list.length >= count) return list;
  }
}

/** Every event on MAIL_EVENTS so far (read with an ephemeral ordered consumer). */
export async function readEvents(world: DeliveryWorld): Promise<MailEvent[]> {
  return readAll(world, STREAMS.events, (data) => decode(MailEvent, data, "event"));
}

export async function readDeadLetters(world: DeliveryWorld): Promise<DeadLetter[]> {
  return readAll(world, STREAMS.dlq, (data) => decode(DeadLetter, data, "dead letter"));
}

async function readAll<T>(world: DeliveryWorld, stream: string, parse: (d: Uint8Array) => { ok: true; value: T } | { ok: false }): Promise<T[]> {
  const jsm = await jetstreamManager(world.nc);
  const info = await jsm.streams.info(stream);
  const total = info.state.messages;
  if (total === 0) return [];
  const consumer = await world.js.consumers.get(stream);
  const out: T[] = [];
  const iter = await consumer.fetch({ max_messages: total, expires: 5000 });
  for await (const m of iter) {
    const parsed = parse(m.data);
    if (parsed.ok) out.push(parsed.value);
    if (m.info.pending === 0) break;
  }
  return out;
}

/** Messages still waiting in MAIL_SEND (work queue: acked ones are gone). */
export async function sendStreamMessages(world: DeliveryWorld): Promise<number> {
  const jsm = await jetstreamManager(world.nc);
  return (await jsm.streams.info(STREAMS.send)).state.messages;
}

/** Messages stored in a stream now. */
export async function streamMessages(world: DeliveryWorld, stream: string): Promise<number> {
  const jsm = await jetstreamManager(world.nc);
  return (await jsm.streams.info(stream)).state.messages;
}

/** A SLUICE_POLICIES file in a temporary directory (removed by the caller's dispose). */
export function writePolicies(policies: unknown): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "sluice-policies-"));
  const path = join(dir, "policies.json");
  writeFileSync(path, JSON.stringify(policies));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Accepted messages per second over a list of acceptance times, leaving out the initial burst. */
export function measuredRate(times: number[], skip: number): number {
  const sorted = [...times].sort((a, b) => a - b).slice(skip);
  if (sorted.length < 2) return 0;
  return (sorted.length - 1) / (((sorted[sorted.length - 1] as number) - (sorted[0] as number)) / 1000);
}
