import type { JetStreamClient } from "@nats-io/jetstream";
import { encode } from "../codec.ts";
import { eventId } from "../events.ts";
import { publishEvent } from "./events.ts";
import type { DeadLetter, MailEvent } from "../schemas/event.ts";
import { subjects } from "../subjects.ts";
import { seriesTag, UNKNOWN_TENANT, InvalidDeadLetter, rawOf, recoverIdentity } from "../dead-letters.ts";

/**
 * Write a dead letter. Its subject ends in the recipient id (`mail.dlq.<tenant>.<id>`), so
 * one can be fetched by id with a direct "last message on subject" read, without scanning.
 * The msgID makes a node that crashes between this write and its ack write it once; it
 * names the replay generation, so the dead letter of a replayed message is a new one.
 */
export async function publishDeadLetter(js: JetStreamClient, dl: DeadLetter): Promise<void> {
  await js.publish(subjects.dlq(dl.tenant, dl.id), encode(dl), { msgID: `dlq.${dl.id}${seriesTag(dl.message.replay)}.${dl.attempts.length}.${dl.reason.code}` });
}

/**
 * Dead-letter a MAIL_SEND message that cannot be read, with reason `invalid`, the bytes as
 * received and the parse error. When a tenant and recipient id can be recovered, it is
 * filed under them and a `dead_lettered` event ends the recipient's status; otherwise it
 * goes under UNKNOWN_TENANT by stream sequence. Idempotent per stream sequence (msgIDs).
 */
export async function deadLetterUnreadable(
  js: JetStreamClient,
  m: { subject: string; seq: number; data: Uint8Array; error: string; now?: number },
): Promise<InvalidDeadLetter> {
  const who = recoverIdentity(m.data);
  const now = m.now ?? Date.now();
  const owned = who.tenant !== undefined && who.id !== undefined;
  const dl: InvalidDeadLetter = {
    v: 1,
    id: owned ? (who.id as string) : `seq-${m.seq}`,
    tenant: owned ? (who.tenant as string) : UNKNOWN_TENANT,
    at: now,
    reason: { code: "invalid", message: m.error.slice(0, 2000) },
    source: { subject: m.subject, seq: m.seq },
    raw: rawOf(m.data),
  };
  await js.publish(subjects.dlq(dl.tenant, dl.id), encode(dl), { msgID: `dlq.${dl.id}.invalid.${m.seq}` });
  if (owned) {
    const event: MailEvent = {
      v: 1,
      id: `${eventId(dl.id, "dead_lettered", 0, who.replay)}.invalid.${m.seq}`,
      type: "dead_lettered",
      tenant: dl.tenant,
      messageId: dl.id,
      at: now,
      reason: "invalid",
    };
    if (who.requestId !== undefined) event.requestId = who.requestId;
    if (who.batchId !== undefined) event.batchId = who.batchId;
    if (who.tier !== undefined) event.tier = who.tier;
    if (who.rcptTo !== undefined) event.rcptTo = who.rcptTo;
    await publishEvent(js, event);
  }
  return dl;
}
