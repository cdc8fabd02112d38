import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { AckedMessage, AckedPublisher } from "./acked-publisher.ts";
import { internalError } from "../errors.ts";
import { newRecord, wakeTime } from "../schedule-record.ts";
import type { Timing } from "../schedule-request.ts";
import { dueMessage, heldMessage, recipientEvent, refOf } from "./schedule-messages.ts";
import { createSchedule } from "./schedule-store.ts";
import type { DeliveryMessage } from "../schemas/delivery.ts";

/**
 * Accepting scheduled mail: the gateway's and the SDK's path when a request has a plan
 * (a future sendAt, or pacing). What goes where, in this order, so that a crash at any
 * point leaves nothing the scheduler could release half-written: the held messages and
 * their `scheduled` events, then the record (the truth), then the first due entry.
 */

export interface ScheduleDeps {
  js: JetStreamClient;
  publisher?: AckedPublisher | undefined;
  /** KV sluice_schedules; without it a producer cannot schedule. */
  schedules?: KV | undefined;
  publishTimeoutMs?: number | undefined;
}

export async function publishGroup(d: ScheduleDeps, messages: AckedMessage[]): Promise<void> {
  if (messages.length === 0) return;
  if (d.publisher) return d.publisher.publish(messages, d.publishTimeoutMs ?? 5000);
  await Promise.all(messages.map((m) => d.js.publish(m.subject, m.data, { msgID: m.msgID, headers: m.headers })));
}

function schedulesOf(d: ScheduleDeps): KV {
  if (d.schedules === undefined) throw internalError("no_schedules", "this producer was built without the sluice_schedules bucket");
  return d.schedules;
}

/**
 * A scheduled message (≤ 50 recipients, so one slice): held messages + `scheduled` events,
 * the record, then the due entry with the accepted event.
 */
export async function publishScheduledSend(
  d: ScheduleDeps,
  a: { tenant: string; requestId: string; messages: { subject: string; message: DeliveryMessage }[]; timing: Timing & { plan: NonNullable<Timing["plan"]> }; now: number; trace: MsgHdrs | undefined; accepted: AckedMessage },
): Promise<void> {
  const schedules = schedulesOf(d);
  const held = a.messages.flatMap(({ subject, message }) => [
    heldMessage(message, subject, 0, a.trace),
    recipientEvent(refOf(message), a.timing.hold === undefined ? "scheduled" : "held", a.now, { nextAttemptAt: a.timing.plan.start }),
  ]);
  await publishGroup(d, held);
  const record = newRecord({ requestId: a.requestId, tenant: a.tenant, kind: "message", recipients: a.messages.length, plan: a.timing.plan, expiresAt: a.timing.expiresAt, ready: true, now: a.now, hold: a.timing.hold });
  await createSchedule(schedules, record);
  const due = dueMessage({ v: 1, tenant: a.tenant, requestId: a.requestId, version: 1, slice: 0, at: wakeTime(record, 0) });
  await publishGroup(d, [due, a.accepted]);
}

/**
 * A scheduled batch: the record (not ready: the fan-out files the recipients into held
 * slices and then marks it ready) and the first due entry. The scheduler re-parks an entry
 * that comes due before the fan-out is done.
 */
export async function scheduleBatch(d: ScheduleDeps, a: { tenant: string; batchId: string; recipients: number; timing: Timing & { plan: NonNullable<Timing["plan"]> }; now: number }): Promise<void> {
  const record = newRecord({ requestId: a.batchId, tenant: a.tenant, kind: "batch", recipients: a.recipients, plan: a.timing.plan, expiresAt: a.timing.expiresAt, ready: false, now: a.now, hold: a.timing.hold });
  await createSchedule(schedulesOf(d), record);
  await publishGroup(d, [dueMessage({ v: 1, tenant: a.tenant, requestId: a.batchId, version: 1, slice: 0, at: wakeTime(record, 0) })]);
}
