import { jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import {
  applyEvent,
  applyStatusLimits,
  decode,
  KV_BUCKETS,
  MailEvent,
  STATUS_INDEXER_CONSUMER,
  statusKey,
  STREAMS,
  type Config,
} from "../protocol/index.ts";

const indexed = metrics.getMeter("sluice").createCounter("sluice_status_index_writes", { description: "Status index writes" });

/** Events written at once; per key they stay in stream order. */
const IN_FLIGHT = 256;

export interface StatusIndexer {
  close(): Promise<void>;
}

/**
 * MAIL_EVENTS → KV `sluice_status`. Each write is a read-modify-write guarded by the entry's
 * revision, so several indexer processes sharing the durable consumer never lose an event
 * of the same message to a race; within one process, events of one key are chained.
 */
export async function startStatusIndexer(nc: NatsConnection, config: Config, logger: Logger): Promise<StatusIndexer> {
  const log = logger.child({ part: "status-indexer" });
  const js = jetstream(nc);
  await applyStatusLimits(await jetstreamManager(nc), config.statusIndex);
  const kv = await new Kvm(nc).open(KV_BUCKETS.status);
  const messages = await (await js.consumers.get(STREAMS.events, STATUS_INDEXER_CONSUMER)).consume({ max_messages: 512 });

  const chains = new Map<string, Promise<void>>();
  let inFlight = 0;
  let wake: (() => void) | undefined;

  const handle = async (m: JsMsg, event: MailEvent): Promise<void> => {
    try {
      await write(kv, event);
      indexed.add(1, { type: event.type });
      m.ack();
    } catch (err) {
      log.warn({ err, messageId: event.messageId }, "status index write failed; retrying");
      m.nak(1000);
    }
  };

  const loop = (async () => {
    for await (const m of messages) {
      const decoded = decode(MailEvent, m.data, "event");
      if (!decoded.ok) {
        log.warn({ subject: m.subject, err: decoded.error.message }, "skipping an invalid event");
        m.ack();
        continue;
      }
      const event = decoded.value;
      const key = event.type === "accepted" ? `req:${event.requestId ?? event.messageId}` : statusKey(event.tenant, event.messageId);
      while (inFlight >= IN_FLIGHT) await new Promise<void>((r) => (wake = r));
      inFlight++;
      const next = (chains.get(key) ?? Promise.resolve()).then(() => handle(m, event));
      chains.set(key, next);
      void next.finally(() => {
        if (chains.get(key) === next) chains.delete(key);
        inFlight--;
        wake?.();
        wake = undefined;
      });
    }
  })();

  log.info({ limits: config.statusIndex }, "status indexer consuming MAIL_EVENTS");
  return {
    close: async () => {
      await messages.close().catch(() => undefined);
      await loop;
      await Promise.all(chains.values());
    },
  };
}

/** Read, apply, write with compare-and-set; a lost race reads again. */
async function write(kv: KV, event: MailEvent): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const probe = applyEvent(undefined, event);
    const current = event.type === "accepted" ? null : await kv.get(probe.key);
    const existing = current !== null && current.operation === "PUT" ? current.value : undefined;
    const { key, value } = existing === undefined ? probe : applyEvent(existing, event);
    try {
      if (event.type === "accepted") await kv.put(key, value);
      else if (current === null) await kv.create(key, value);
      else await kv.update(key, value, current.revision);
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
}
