import { jetstreamManager, JetStreamApiError, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { internalError } from "../errors.ts";
import { OBSOLETE_WEBHOOK_FANOUT_CONSUMER, STREAMS } from "../subjects.ts";
import { sendStreamDescription, type ConsumerSpec, type StreamSpec, type Topology } from "./topology.ts";

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const STREAM_NAME_IN_USE = 10058;
const CONSUMER_EXISTS = 10148; // 2.10+: "consumer already exists" on a concurrent create

const apiCode = (e: unknown): number | undefined => (e instanceof JetStreamApiError ? e.code : undefined);

/**
 * Create or update every stream, consumer, KV bucket and object store of the topology.
 * Idempotent and safe to run from every process at start-up at the same time: a create
 * that loses a race is followed by a read of what the winner made.
 */
export async function ensureTopology(nc: NatsConnection, topology: Topology): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const spec of topology.streams) await ensureStream(jsm, spec);
  // Consumers are many (tiers × partitions): create them a few at a time.
  const queue = [...topology.consumers];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) await ensureConsumer(jsm, spec);
    }),
  );
  // Before 0.1, webhook fan-out had a MAIL_EVENTS consumer of its own; the events consumer
  // does that work now, and a left-over durable would only pile up pending events.
  await jsm.consumers.delete(STREAMS.events, OBSOLETE_WEBHOOK_FANOUT_CONSUMER).catch(() => undefined); // absent on any store made since: nothing to remove
  // The TTLs as asked (the object-store client changes the options object it is given).
  const ages = [
    ...topology.kv.flatMap((spec) => (spec.growTtl && spec.options.ttl ? [[`KV_${spec.name}`, spec.options.ttl * 1_000_000] as const] : [])),
    ...topology.objectStores.flatMap((spec) => (spec.growTtl && spec.options.ttl ? [[`OBJ_${spec.name}`, spec.options.ttl] as const] : [])),
  ];
  const kvm = new Kvm(nc);
  for (const spec of topology.kv) await afterRace(() => kvm.create(spec.name, spec.options));
  const objm = new Objm(nc);
  for (const spec of topology.objectStores) await afterRace(() => objm.create(spec.name, spec.options));
  // Scheduling: TTLs that grow with SLUICE_SCHEDULE_HORIZON (payloads, statuses, batch
  // records: `growTtl`) must grow on buckets created before it too; the clients bind to an
  // existing bucket without changing it. Only ever raised: a shorter one could drop live
  // data. Leases and other TTLs are left as they were created.
  for (const [stream, maxAge] of ages) await raiseMaxAge(jsm, stream, maxAge);
}

/** Raise a stream's max age to `maxAgeNanos` if it is shorter (0 = unlimited: left alone). */
async function raiseMaxAge(jsm: JetStreamManager, stream: string, maxAgeNanos: number): Promise<void> {
  const info = await jsm.streams.info(stream);
  const current = info.config.max_age;
  if (current === 0 || current >= maxAgeNanos) return;
  await jsm.streams.update(stream, { max_age: maxAgeNanos });
}

/**
 * The KV and object-store clients check, then create. Two processes can both see
 * "missing" and the slower create fails with "name already in use"; its second try
 * finds the bucket and binds to it.
 */
async function afterRace<T>(create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (e) {
    if (apiCode(e) !== STREAM_NAME_IN_USE) throw e;
    return create();
  }
}

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(spec.name);
  } catch (e) {
    if (apiCode(e) !== STREAM_NOT_FOUND) throw e;
  }
  if (info === undefined) {
    try {
      await jsm.streams.add(spec);
      return;
    } catch (e) {
      if (apiCode(e) !== STREAM_NAME_IN_USE) throw e;
      info = await jsm.streams.info(spec.name); // lost a race: converge on what exists
    }
  }
  if (spec.name === STREAMS.send && spec.description !== undefined && info.config.description !== spec.description) {
    throw internalError(
      "partitions_mismatch",
      `stream ${spec.name} exists as "${info.config.description ?? ""}" but this process expects "${sendStreamDescription(
        Number(/partitions=(\d+)/.exec(spec.description)?.[1]),
      )}": the partition count is fixed when the stream is created; set SLUICE_PARTITIONS to match`,
    );
  }
  if (differs(spec, info.config)) {
    const { name, ...update } = spec;
    await jsm.streams.update(name, update);
  }
}

async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const name = spec.config.durable_name;
  try {
    const info = await jsm.consumers.info(spec.stream, name);
    if (differs(spec.config, info.config)) {
      const { durable_name: _d, filter_subject: _f, deliver_policy: _p, ack_policy: _a, ...mutable } = spec.config;
      await jsm.consumers.update(spec.stream, name, mutable);
    }
    return;
  } catch (e) {
    if (apiCode(e) !== CONSUMER_NOT_FOUND) throw e;
  }
  try {
    await jsm.consumers.add(spec.stream, spec.config);
  } catch (e) {
    if (apiCode(e) !== CONSUMER_EXISTS) throw e;
  }
}

/** True when any field the spec sets has another value on the server. */
function differs(spec: object, actual: object): boolean {
  const have = actual as Record<string, unknown>;
  return Object.entries(spec).some(([key, want]) => JSON.stringify(want) !== JSON.stringify(have[key]));
}
