import type { JetStreamClient } from "@nats-io/jetstream";
import { encode } from "./codec.ts";
import type { DeadLetter } from "./schemas/event.ts";
import { subjects } from "./subjects.ts";

/**
 * Write a dead letter. Its subject ends in the recipient id (`mail.dlq.<tenant>.<id>`), so
 * one can be fetched by id with a direct "last message on subject" read, without scanning.
 * The msgID makes a node that crashes between this write and its ack write it once.
 */
export async function publishDeadLetter(js: JetStreamClient, dl: DeadLetter): Promise<void> {
  await js.publish(subjects.dlq(dl.tenant, dl.id), encode(dl), { msgID: `dlq.${dl.id}.${dl.attempts.length}.${dl.reason.code}` });
}
