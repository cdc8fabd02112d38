import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import {
  applyEvent,
  KV_BUCKETS,
  type MailEvent,
  type MessageStatus,
  newId,
  STATUS_INDEXER_CONSUMER,
  statusKey,
  STREAMS,
  type Config,
} from "../protocol/index.ts";
import { AckedPublisher, applyStatusLimits, PublishRefusedError } from "../protocol/io/index.ts";
import { consumeEvents } from "./event-consumer.ts";
import { BatchTally } from "./batch-tally.ts";
import { fanOut } from "./webhooks/fanout.ts";
import { EndpointRegistry } from "./webhooks/registry.ts";
import { KeyedRunner } from "./keyed-runner.ts";

const indexed = metrics.getMeter("sluice").createCounter("sluice_status_index_writes", { description: "Status index writes" });

/** Events written at once; per key they stay in stream order. */
const IN_FLIGHT = 256;

export interface StatusIndexer {
  close(): Promise<void>;
}

/**
 * The events consumer: MAIL_EVENTS → KV `sluice_status`, and each event → the lanes of the
 * webhook endpoints that subscribe to it (MAIL_WEBHOOKS; actors/webhooks posts them).
 * Both happen before the event is acked, so one delivery and one ack per event serve the
 * index and the webhooks (two consumers used to cost nats-server and the node a quarter
 * more per message). Each index write is a read-modify-write guarded by the entry's
 * revision, so several processes sharing the durable consumer never lose an event of the
 * same message to a race; within one process, events of one message are chained, which
 * also keeps their webhook jobs in order.
 */
export async function startStatusIndexer(nc: NatsConnection, config: Config, logger: Logger): Promise<StatusIndexer> {
  const log = logger.child({ part: "status-indexer" });
  const js = jetstream(nc);
  await applyStatusLimits(await jetstreamManager(nc), config.statusIndex);
  const kvm = new Kvm(nc);
  const kv = await kvm.open(KV_BUCKETS.status);
  const publisher = new AckedPublisher(nc);
  const writes = new BlindWrites(publisher, KV_BUCKETS.status);
  // Which endpoints want which events: a watched copy of sluice_webhooks, never read per event.
  const endpoints = new EndpointRegistry(await kvm.open(KV_BUCKETS.webhooks), { added: () => undefined, removed: () => undefined }, log);
  await endpoints.start();
  const messages = await (await js.consumers.get(STREAMS.events, STATUS_INDEXER_CONSUMER)).consume({ max_messages: 512 });

  const runner = new KeyedRunner(IN_FLIGHT);

  // Unique per process lifetime: each writer's batch totals live under keys of its own.
  const countWrites = new BlindWrites(publisher, KV_BUCKETS.batchCounts);
  const tally = new BatchTally((key, value) => countWrites.put(key, value), `${config.nodeId}-${newId()}`, log);

  const handle = async (m: JsMsg, event: MailEvent): Promise<void> => {
    try {
      // Webhook jobs first: a redelivered event queues them again under the same ids (de-duplicated).
      await fanOut(js, endpoints, event, m.headers);
      const moved = await write(kv, writes, event);
      indexed.add(1, { type: event.type });
      // A batch recipient's event is acked once the batch's counts that include it are written.
      if (moved !== undefined && event.batchId !== undefined) tally.count(event.tenant, event.batchId, moved.from, moved.to, m);
      else m.ack();
    } catch (err) {
      log.warn({ err, messageId: event.messageId }, "status index write failed; retrying");
      m.nak(1000);
    }
  };

  // Keyed by message: its index writes and its webhook jobs stay in event order.
  const loop = consumeEvents(messages, runner, log, (event) => statusKey(event.tenant, event.messageId), handle);

  log.info({ limits: config.statusIndex }, "events consumer (status index, webhook fan-out) consuming MAIL_EVENTS");
  return {
    close: async () => {
      await messages.close().catch(() => undefined); // a consumer whose connection already closed has nothing left to stop
      await loop;
      await tally.close();
      publisher.close();
      endpoints.stop();
    },
  };
}

/** A recipient's status before (undefined: no record yet) and after an event was indexed. */
interface Transition {
  from: MessageStatus | undefined;
  to: MessageStatus;
}

/** JetStream's answer to a write whose expected last sequence does not match (the key exists). */
const WRONG_LAST_SEQUENCE = 10071;
const WRITE_TIMEOUT_MS = 5000;

/**
 * The two blind writes of the indexer (put, and create-if-absent), as plain publishes to the
 * bucket's subjects through the AckedPublisher: `kv.put`/`kv.create` go through
 * `js.publish`, whose per-call Error objects and reply-mux entries were about a tenth of
 * the node's CPU when it indexed one `delivered` event per message.
 */
class BlindWrites {
  readonly #prefix: string;
  readonly #mustBeNew = natsHeaders();

  constructor(
    private readonly publisher: AckedPublisher,
    bucket: string,
  ) {
    this.#prefix = `$KV.${bucket}.`;
    this.#mustBeNew.set("Nats-Expected-Last-Subject-Sequence", "0");
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.publisher.publish([{ subject: this.#prefix + key, data: value }], WRITE_TIMEOUT_MS);
  }

  /** False when the key already has a value (a deleted key counts as having one). */
  async create(key: string, value: Uint8Array): Promise<boolean> {
    try {
      await this.publisher.publish([{ subject: this.#prefix + key, data: value, headers: this.#mustBeNew }], WRITE_TIMEOUT_MS);
      return true;
    } catch (e) {
      if (e instanceof PublishRefusedError && e.errCode === WRONG_LAST_SEQUENCE) return false;
      throw e;
    }
  }
}

/**
 * Most recipients have one event (delivered at the first attempt): try to create the record
 * blind, one round trip. Only when it exists: read, apply, write with compare-and-set; a
 * lost race reads again.
 */
async function write(kv: KV, writes: BlindWrites, event: MailEvent): Promise<Transition | undefined> {
  const fresh = applyEvent(undefined, event);
  if (event.type === "accepted" || fresh.status === undefined) {
    await writes.put(fresh.key, fresh.value);
    return undefined;
  }
  try {
    if (await writes.create(fresh.key, fresh.value)) return { from: undefined, to: fresh.status };
  } catch {
    // a transient error: the read-modify-write below decides
  }
  for (let attempt = 0; ; attempt++) {
    const current = await kv.get(fresh.key);
    const existing = current !== null && current.operation === "PUT" ? current.value : undefined;
    const { value, previous, status } = applyEvent(existing, event);
    try {
      if (current === null) await kv.create(fresh.key, value);
      else await kv.update(fresh.key, value, current.revision);
      return { from: previous, to: status ?? fresh.status };
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}
