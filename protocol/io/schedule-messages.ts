import type { MsgHdrs } from "@nats-io/transport-node";
import type { AckedMessage } from "./acked-publisher.ts";
import { encode } from "../codec.ts";
import { eventId } from "../events.ts";
import { recipientId } from "../ids.ts";
import type { DeliveryMessage } from "../schemas/delivery.ts";
import type { MailEvent } from "../schemas/event.ts";
import type { DueEntry, HeldMessage, ScheduleRecord } from "../schemas/schedule.ts";
import { subjects } from "../subjects.ts";

/**
 * What scheduling writes, as data (pure): record keys, held messages, due entries and the
 * scheduling events of recipients. protocol/schedule-store.ts does the I/O.
 */

export const scheduleKey = (tenant: string, requestId: string): string => `${tenant}.${requestId}`;

export function heldMessage(message: DeliveryMessage, subject: string, slice: number, headers?: MsgHdrs): AckedMessage {
  const held: HeldMessage = { subject, message };
  return { subject: subjects.schedHeld(message.requestId, slice), data: encode(held), msgID: `${message.id}.held`, headers };
}

/** A wake-up; its msgID names its version, slice and time, so a repeat is stored once and a re-park is not a repeat. */
export function dueMessage(e: DueEntry): AckedMessage {
  return { subject: subjects.schedDue(Math.floor(e.at / 1000)), data: encode(e), msgID: `${e.requestId}.v${e.version}.s${e.slice}.t${e.at}` };
}

export interface RecipientRef {
  tenant: string;
  requestId: string;
  batchId?: string | undefined;
  index: number;
  rcptTo?: string | undefined;
  tier?: DeliveryMessage["tier"] | undefined;
  metadata?: DeliveryMessage["metadata"] | undefined;
}

export const refOf = (m: DeliveryMessage): RecipientRef => ({
  tenant: m.tenant,
  requestId: m.requestId,
  batchId: m.batchId,
  index: Number(m.id.slice(m.id.lastIndexOf("-") + 1)),
  rcptTo: m.rcptTo,
  tier: m.tier,
  metadata: m.metadata,
});

/** A scheduling event of one recipient (scheduled or held, queued at release, cancelled, expired); id deterministic. */
export function recipientEvent(r: RecipientRef, type: "scheduled" | "held" | "queued" | "cancelled" | "expired", at: number, extra: { nextAttemptAt?: number; reason?: string; version?: number } = {}): AckedMessage {
  const messageId = recipientId(r.requestId, r.index);
  // A rescheduled request is scheduled again: the version keeps that event apart from the first.
  const event: MailEvent = { v: 1, id: eventId(messageId, type, extra.version ?? 0), type, tenant: r.tenant, messageId, requestId: r.requestId, at };
  if (r.batchId !== undefined) event.batchId = r.batchId;
  if (r.tier !== undefined) event.tier = r.tier;
  if (r.rcptTo !== undefined) event.rcptTo = r.rcptTo;
  if (r.metadata !== undefined) event.metadata = r.metadata;
  if (extra.nextAttemptAt !== undefined) event.nextAttemptAt = extra.nextAttemptAt;
  if (extra.reason !== undefined) event.reason = extra.reason;
  return { subject: subjects.event(r.tenant, type), data: encode(event), msgID: event.id };
}

/** `type` events for the recipient indexes of `record` in [from, to), skipping those in `skip`. */
export function* recipientEvents(record: ScheduleRecord, from: number, to: number, type: "cancelled" | "expired", at: number, reason: string, skip: ReadonlySet<number> = new Set()): Generator<AckedMessage> {
  for (let i = from; i < to; i++) {
    if (skip.has(i)) continue;
    yield recipientEvent({ tenant: record.tenant, requestId: record.requestId, batchId: record.kind === "batch" ? record.requestId : undefined, index: i }, type, at, { reason });
  }
}
