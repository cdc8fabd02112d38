import type { ConsumerMessages, JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { sendConsumerName, STREAMS, type TierName } from "../../protocol/index.ts";

/** Lifetime of one pull request; short so that a stopped consumer's last pull is gone soon. */
const PULL_EXPIRES_MS = 2000;

export interface TierConsumerOptions {
  js: JetStreamClient;
  tier: TierName;
  partition: number;
  /** Messages the client asks for per pull; small, because a pulled message's ack-wait is already running. */
  batch: number;
  /** Resolves when this tier may take another message (the node's per-tier bound). */
  admit(): Promise<void> | undefined;
  handle(msg: import("@nats-io/jetstream").JsMsg): void;
  logger: Logger;
}

/**
 * One pull loop over the durable consumer `send_<tier>_<partition>`. Stopping it ends the
 * pulls; a message the client had already buffered is naked at once so that the next
 * owner of the partition gets it without waiting for the ack-wait.
 */
export class TierConsumer {
  #messages: ConsumerMessages | undefined;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();

  constructor(private readonly o: TierConsumerOptions) {}

  async start(): Promise<void> {
    const consumer = await this.o.js.consumers.get(STREAMS.send, sendConsumerName(this.o.tier, this.o.partition));
    if (this.#stopped) return;
    const messages = await consumer.consume({ max_messages: this.o.batch, expires: PULL_EXPIRES_MS });
    this.#messages = messages;
    this.#done = (async () => {
      for await (const msg of messages) {
        if (this.#stopped) {
          msg.nak();
          continue;
        }
        const wait = this.o.admit();
        if (wait) await wait;
        if (this.#stopped) {
          msg.nak();
          continue;
        }
        this.o.handle(msg);
      }
    })().catch((e: unknown) => {
      if (!this.#stopped) this.o.logger.error({ err: e, tier: this.o.tier, partition: this.o.partition }, "consumer loop ended");
    });
  }

  /**
   * Stop pulling. Resolves once the server can no longer deliver to this consumer's pull
   * requests: unsubscribing does not withdraw a pull request already at the server, and a
   * message it delivers there waits a whole ack-wait in limbo. So the caller hands back
   * (naks) what it holds only after the last pull request has expired.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return this.#done;
    this.#stopped = true;
    this.#messages?.stop();
    await this.#done;
    if (this.#messages) await new Promise((r) => setTimeout(r, PULL_EXPIRES_MS + 250));
  }
}
