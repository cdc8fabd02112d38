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

/** Pauses before reopening a pull loop that ended by itself: first, then doubled up to the last. */
const REOPEN_MIN_MS = 250;
const REOPEN_MAX_MS = 5000;

/**
 * One pull loop over the durable consumer `send_<tier>_<partition>`. Stopping it ends the
 * pulls; a message the client had already buffered is naked at once so that the next
 * owner of the partition gets it without waiting for the ack-wait.
 *
 * `start()` opens the consumer once and throws if it cannot (the caller decides whether to
 * try again). Once started, it keeps consuming until stopped: should the pull loop end by
 * itself (the client gives up on some server answers), it is reopened with backoff, so a
 * partition the node owns is never left without a consumer while the node thinks it has one.
 */
export class TierConsumer {
  #messages: ConsumerMessages | undefined;
  #stopped = false;
  #done: Promise<void> = Promise.resolve();
  /** Pulls were opened at least once: a pull request of ours may still be at the server. */
  #pulled = false;
  #wakeStopped: () => void = () => undefined;

  constructor(private readonly o: TierConsumerOptions) {}

  async start(): Promise<void> {
    const opening = this.#open();
    // stop() waits for the opening too: pulls it starts must be stopped and expire.
    this.#done = opening.then(
      (ok) => (ok ? this.#run() : undefined),
      () => undefined,
    );
    await opening;
  }

  /** Open the consumer's pulls; false if stopped meanwhile. */
  async #open(): Promise<boolean> {
    const consumer = await this.o.js.consumers.get(STREAMS.send, sendConsumerName(this.o.tier, this.o.partition));
    if (this.#stopped) return false;
    const messages = await consumer.consume({ max_messages: this.o.batch, expires: PULL_EXPIRES_MS });
    this.#messages = messages;
    this.#pulled = true;
    // stop() may have come while consume() was being set up: it could not stop these pulls.
    if (this.#stopped) {
      messages.stop();
      return false;
    }
    return true;
  }

  async #run(): Promise<void> {
    for (let failures = 0; !this.#stopped; ) {
      const messages = this.#messages;
      if (messages) {
        try {
          await this.#drain(messages);
          if (this.#stopped) return;
          this.o.logger.error({ tier: this.o.tier, partition: this.o.partition }, "consumer loop ended; reopening");
        } catch (e) {
          if (this.#stopped) return;
          this.o.logger.error({ err: e, tier: this.o.tier, partition: this.o.partition }, "consumer loop ended; reopening");
        }
        this.#messages = undefined;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(REOPEN_MAX_MS, REOPEN_MIN_MS * 2 ** Math.min(failures, 10)));
        this.#wakeStopped = () => {
          clearTimeout(t);
          r();
        };
      });
      if (this.#stopped) return;
      try {
        if (!(await this.#open())) return;
        failures = 0;
      } catch (e) {
        failures++;
        this.o.logger.warn({ err: e, tier: this.o.tier, partition: this.o.partition, failures }, "cannot reopen consumer; retrying");
      }
    }
  }

  async #drain(messages: ConsumerMessages): Promise<void> {
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
    this.#wakeStopped();
    await this.#done;
    if (this.#pulled) await new Promise((r) => setTimeout(r, PULL_EXPIRES_MS + 250));
  }
}
