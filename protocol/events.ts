import type { JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { encode } from "./codec.ts";
import type { MailEvent } from "./schemas/event.ts";
import { subjects } from "./subjects.ts";

/**
 * The id of an event is deterministic (message id, type, attempt), and it is the JetStream
 * msgID: a node that crashes after publishing but before acking publishes the same id
 * again and JetStream stores it once.
 */
export const eventId = (messageId: string, type: MailEvent["type"], attempt = 0): string => `${messageId}.${type}.${attempt}`;

export async function publishEvent(js: JetStreamClient, event: MailEvent, headers?: MsgHdrs): Promise<void> {
  // `headers` carry the message's trace to the webhook that reports this event.
  await js.publish(subjects.event(event.tenant, event.type), encode(event), { msgID: event.id, headers });
}
