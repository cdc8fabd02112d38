import type { KV } from "@nats-io/kv";
import type { MsgHdrs } from "@nats-io/transport-node";
import { sliceOf, type BatchJob, type DeliveryMessage, type Outgoing } from "../../protocol/index.ts";
import {
  dueMessage,
  heldMessage,
  recipientEvent,
  refOf,
  updateSchedule,
  type AckedMessage,
  type AckedPublisher,
} from "../../protocol/io/index.ts";

/**
 * A scheduled or paced batch (job.schedule): each recipient's message is held in its slice
 * of the release plan on MAIL_SCHEDULED, with a `scheduled` event (`held` for a batch held
 * over its tenant's daily quota), instead of going to
 * MAIL_SEND; the scheduler releases the slices. The slice is a pure function of the index
 * and the job, so a fan-out redone after a crash files every recipient where it was.
 */
export function heldCopies(job: BatchJob & { schedule: NonNullable<BatchJob["schedule"]> }, o: Outgoing<DeliveryMessage>, index: number, trace: MsgHdrs | undefined): AckedMessage[] {
  const slice = sliceOf({ recipients: job.recipients.count, deliverOverMs: job.schedule.deliverOverMs }, index);
  return [heldMessage(o.message, o.subject, slice, trace), recipientEvent(refOf(o.message), job.schedule.hold === undefined ? "scheduled" : "held", job.createdAt, { nextAttemptAt: job.schedule.start })];
}

/**
 * Every recipient is held: the scheduler may release (protocol/schemas/schedule.ts `ready`).
 * A wake-up now, so that a plan already due (pacing that starts at once) does not wait for
 * the scheduler's next look at a batch it found not ready.
 */
export async function markReady(schedules: KV, publisher: AckedPublisher, job: BatchJob): Promise<void> {
  const done = await updateSchedule(schedules, job.tenant, job.batchId, (r) => (r.ready ? undefined : { ...r, ready: true, updatedAt: Date.now() }));
  const r = done?.after;
  if (r !== undefined && r.state === "scheduled") {
    await publisher.publish([dueMessage({ v: 1, tenant: r.tenant, requestId: r.requestId, version: r.version, slice: r.next, at: Date.now() })], 10_000);
  }
}
