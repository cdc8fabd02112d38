import type { JetStreamClient } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { encode } from "../codec.ts";
import type { MailEvent } from "../schemas/event.ts";
import { subjects } from "../subjects.ts";

export async function publishEvent(js: JetStreamClient, event: MailEvent, headers?: MsgHdrs): Promise<void> {
  // `headers` carry the message's trace to the webhook that reports this event.
  await js.publish(subjects.event(event.tenant, event.type), encode(event), { msgID: event.id, headers });
}
