import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg, type StoredMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { z } from "zod";
import {
  decode,
  DeliveryMessage,
  messageEvent,
  STREAMS,
  type Config,
} from "../protocol/index.ts";
import { ADVISORY_STREAM, deadLetterUnreadable, publishDeadLetter, publishEvent } from "../protocol/io/index.ts";

/**
 * Turns JetStream MAX_DELIVERIES advisories into dead letters. A message that was delivered
 * max_deliver times without an ack or term (it crashed its worker every time, or a bug kept
 * it from being settled) stays in the work-queue stream forever otherwise; here it gets a
 * dead letter with reason `max_deliveries`, a `dead_lettered` event, and leaves MAIL_SEND.
 */

/** io.nats.jetstream.advisory.v1.max_deliver, the fields we use. */
const MaxDeliveriesAdvisory = z.object({
  type: z.literal("io.nats.jetstream.advisory.v1.max_deliver"),
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int(),
});

const meter = metrics.getMeter("sluice");
const deadLettered = meter.createCounter("sluice_dead_letters", { description: "Messages dead-lettered, by reason" });

export interface DeadLetterer {
  close(): Promise<void>;
}

export async function startDeadLetterer(nc: NatsConnection, _config: Config, logger: Logger): Promise<DeadLetterer> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(ADVISORY_STREAM, "dead_letterer");
  const d = new AdvisoryDeadLetterer(js, await jetstreamManager(nc), logger.child({ part: "dead-letterer" }));
  d.run(await consumer.consume({ max_messages: 16 }));
  return { close: () => d.close() }; // callers keep `close` as a bare function

}

/** One advisory at a time: look the message up in MAIL_SEND, dead-letter it, delete it, ack the advisory. */
class AdvisoryDeadLetterer implements DeadLetterer {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> = Promise.resolve();

  constructor(js: JetStreamClient, jsm: JetStreamManager, log: Logger) {
    this.#js = js;
    this.#jsm = jsm;
    this.#log = log;
  }

  run(messages: ConsumerMessages): void {
    this.#messages = messages;
    this.#loop = (async () => {
      for await (const m of messages) {
        try {
          await this.#handle(m);
        } catch (e) {
          this.#log.error({ err: e }, "could not dead-letter; the advisory will be retried");
          m.nak(2000);
        }
      }
    })();
    this.#log.info("dead-letterer consuming max-deliveries advisories");
  }

  async close(): Promise<void> {
    await this.#messages?.close();
    await this.#loop;
  }

  async #handle(m: JsMsg): Promise<void> {
    const advisory = decode(MaxDeliveriesAdvisory, m.data, "max-deliveries advisory");
    if (!advisory.ok || advisory.value.stream !== STREAMS.send) {
      if (!advisory.ok) this.#log.warn({ err: advisory.error.message }, "ignoring an advisory that is not a max-deliveries advisory");
      m.ack();
      return;
    }
    const { stream_seq: seq, consumer: from, deliveries } = advisory.value;
    const stored = await this.#jsm.streams.getMessage(STREAMS.send, { seq });
    if (stored === null) {
      m.ack(); // settled or already dead-lettered in the meantime: nothing left to do
      return;
    }
    const decoded = decode(DeliveryMessage, stored.data, "delivery message");
    if (decoded.ok) await this.#deadLetter(decoded.value, { seq, deliveries, from });
    else await this.#deadLetterUnreadable(stored, decoded.error.message);
    await this.#jsm.streams.deleteMessage(STREAMS.send, seq, false).catch((e: unknown) => {
      this.#log.debug({ err: e, seq }, "message already gone from MAIL_SEND");
    });
    m.ack();
  }

  /** Kept raw, under its tenant and id if they can be read, else under `_unknown`. */
  async #deadLetterUnreadable(stored: StoredMsg, error: string): Promise<void> {
    const dl = await deadLetterUnreadable(this.#js, { subject: stored.subject, seq: stored.seq, data: stored.data, error });
    this.#log.error({ seq: stored.seq, subject: stored.subject, err: error, messageId: dl.id, tenant: dl.tenant }, "dead-lettered an unreadable message that exhausted max_deliver");
    deadLettered.add(1, { reason: "invalid" });
  }

  async #deadLetter(message: DeliveryMessage, o: { seq: number; deliveries: number; from: string }): Promise<void> {
    const now = Date.now();
    const reason = { code: "max_deliveries", message: `delivered ${o.deliveries} times by consumer ${o.from} without being settled (it may crash its worker)` };
    await publishDeadLetter(this.#js, { v: 1, id: message.id, tenant: message.tenant, at: now, reason, message, attempts: message.attempts });
    const attempt = message.attempts.length;
    await publishEvent(this.#js, { ...messageEvent(message, "dead_lettered", now, attempt), attempt, reason: reason.code });
    deadLettered.add(1, { reason: reason.code, tier: message.tier });
    this.#log.warn({ messageId: message.id, tenant: message.tenant, seq: o.seq, deliveries: o.deliveries, consumer: o.from }, "dead-lettered a message that exhausted max_deliver");
  }
}
