import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decode, MailEvent } from "../protocol/index.ts";
import type { KeyedRunner } from "./keyed-runner.ts";

/**
 * The loop the MAIL_EVENTS consumers share (status index, webhook fan-out): decode each
 * event, ack and skip one that is not valid (it can never become valid), and schedule the
 * rest on a KeyedRunner so that the events of one key are handled in order while different
 * keys pipeline. An event `ignores` names by its subject is acked without decoding it
 * (the JSON parse and schema check are most of a consumer's CPU per event). Ends when `messages` is closed, after everything scheduled has finished.
 */
export async function consumeEvents(
  messages: ConsumerMessages,
  runner: KeyedRunner,
  log: Logger,
  keyOf: (event: MailEvent) => string,
  handle: (m: JsMsg, event: MailEvent) => Promise<void>,
  /** Events this consumer has nothing to do with, told by subject alone: acked undecoded. */
  ignores?: (subject: string) => boolean,
): Promise<void> {
  for await (const m of messages) {
    if (ignores?.(m.subject)) {
      m.ack();
      continue;
    }
    const decoded = decode(MailEvent, m.data, "event");
    if (!decoded.ok) {
      log.warn({ subject: m.subject, err: decoded.error.message }, "skipping an invalid event");
      m.ack();
      continue;
    }
    const event = decoded.value;
    await runner.schedule(keyOf(event), () => handle(m, event));
  }
  await runner.drain();
}
