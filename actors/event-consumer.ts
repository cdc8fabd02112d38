import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { decode, MailEvent } from "../protocol/index.ts";
import type { KeyedRunner } from "./keyed-runner.ts";

/**
 * The consume loop of the events consumer (status index and webhook fan-out) on
 * MAIL_EVENTS: decode each event, ack and skip one that is not valid (it can never become
 * valid), and schedule the rest on a KeyedRunner so that the events of one key are handled in order while different
 * keys pipeline. Ends when `messages` is closed, after everything scheduled has finished.
 */
export async function consumeEvents(
  messages: ConsumerMessages,
  runner: KeyedRunner,
  log: Logger,
  keyOf: (event: MailEvent) => string,
  handle: (m: JsMsg, event: MailEvent) => Promise<void>,
): Promise<void> {
  for await (const m of messages) {
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
