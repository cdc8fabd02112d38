import type { JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { z } from "zod";
import { forwardTrace } from "../../protocol/telemetry/index.ts";
import {
  BatchProgress,
  buildBatchDelivery,
  decode,
  deliverySubjects,
  encode,
  RecipientList,
  BatchJob,
  type BatchRecipient,
  eventId,
  type MailEvent,
  recipientId,
  subjects,
} from "../../protocol/index.ts";
import { type AckedMessage, type AckedPublisher } from "../../protocol/io/index.ts";

import { heldCopies } from "./scheduled.ts";

const published = metrics.getMeter("sluice").createCounter("sluice_fanout_messages_published", {
  description: "Per-recipient messages the fan-out actor published to MAIL_SEND (JetStream duplicates included)",
});

/**
 * Messages per checkpoint, and windows in flight. After a crash at most
 * WINDOW × IN_FLIGHT_WINDOWS messages are published again, and JetStream drops those
 * repeats by msgID (= recipient id) as long as the job comes back within MAIL_SEND's
 * duplicate window. Four windows keep the publishing going while earlier windows' acks
 * and checkpoints travel (two left the actor waiting on each checkpoint round trip).
 */
export const WINDOW = 1000;
export const IN_FLIGHT_WINDOWS = 4;
/** A window not fully acknowledged by then fails (the job is nak'ed and resumes from its checkpoint). */
export const WINDOW_ACK_TIMEOUT_MS = 30_000;

export interface ExpandDeps {
  publisher: AckedPublisher;
  /** The server's max_payload: a per-recipient message above it can never be published. */
  maxPayload: number;
  payloads: ObjectStore;
  batches: KV;
  partitions: number;
  logger: Logger;
  stopping(): boolean;
  /** Scheduling: KV sluice_schedules, for jobs with a release plan. */
  schedules?: KV;
}

export type Outcome = "expanded" | "stopped" | "failed";

/** Room left in a NATS message for headers (msgID, trace context) and the subject. */
const HEADROOM_BYTES = 4096;

/** Expand one job from its checkpoint on. Throws on NATS trouble (the caller naks; the checkpoint holds). */
export async function expandJob(d: ExpandDeps, msg: JsMsg, job: BatchJob): Promise<Outcome> {
  const log = d.logger.child({ batchId: job.batchId, tenant: job.tenant });
  const progress = await readProgress(d.batches, job);
  if (progress.state === "expanded") return "expanded";
  if (progress.state === "failed" && progress.expanded >= progress.total) return "failed";

  // A job that cannot be expanded at all still ends every recipient it names: a `failed`
  // event each (ids are deterministic: <batch id>-<index>), and the batch in state failed.
  const bytes = await d.payloads.getBlob(job.recipients.ref);
  if (bytes === null) return failJob(d, job, progress, "recipients_missing: the batch recipient list is missing from the object store");
  const list = decode(RecipientList, bytes, "batch recipient list");
  if (!list.ok) return failJob(d, job, progress, `recipients_invalid: ${list.error.message}`);
  if (list.value.length !== job.recipients.count) return failJob(d, job, progress, `recipients_invalid: the list holds ${list.value.length}, the job says ${job.recipients.count}`);
  const payloadInfo = await d.payloads.info(job.payload.ref);
  if (payloadInfo === null || payloadInfo.deleted) return failJob(d, job, progress, "payload_missing: the message payload is missing from the object store", list.value);
  const recipients = list.value;
  const total = recipients.length;
  if (progress.expanded > 0) log.info({ from: progress.expanded, total }, "resuming batch fan-out from its checkpoint");

  // Every recipient continues the trace of the request that submitted the batch.
  const trace = forwardTrace(msg.headers);
  const subjectOf = deliverySubjects(d.partitions);
  // Windows in flight, oldest first. The checkpoints form one chain: window k's is written
  // after window k's acks AND window k-1's checkpoint, so the checkpoint only ever covers
  // windows whose every message was acknowledged, and the writes stay in order.
  const inFlight: Promise<void>[] = [];
  let checkpoint: Promise<void> = Promise.resolve();
  for (let start = progress.expanded; start < total; start += WINDOW) {
    if (d.stopping()) {
      await Promise.allSettled(inFlight);
      return "stopped";
    }
    const end = Math.min(total, start + WINDOW);
    const window: AckedMessage[] = [];
    let failedHere = 0;
    let firstReason: string | undefined;
    for (let i = start; i < end; i++) {
      // createdAt is the job's: a redone window publishes byte-identical messages.
      const o = buildBatchDelivery(job, recipients[i] as (typeof recipients)[number], i, d.partitions, job.createdAt, subjectOf);
      const data = encode(o.message);
      if (data.length > d.maxPayload - HEADROOM_BYTES) {
        // JetStream would refuse it on every try: the recipient fails now, the others go on.
        const reason = `message_too_large: the message for this recipient is ${data.length} bytes, over the ${d.maxPayload}-byte NATS max_payload (vars too large)`;
        window.push(failedEvent(job, i, reason, o.message.rcptTo));
        failedHere++;
        firstReason ??= reason;
        continue;
      }
      // Scheduled or paced: held for the scheduler (./scheduled.ts) instead of queued now.
      if (job.schedule !== undefined) window.push(...heldCopies({ ...job, schedule: job.schedule }, o, i, trace));
      else window.push({ subject: o.subject, data, msgID: o.msgID, headers: trace });
    }
    const acked = d.publisher.publish(window, WINDOW_ACK_TIMEOUT_MS).then(() => published.add(end - start, { tier: job.tier }));
    const previous = checkpoint;
    checkpoint = Promise.all([previous, acked]).then(async () => {
      progress.expanded = end;
      if (failedHere > 0) {
        progress.failed = (progress.failed ?? 0) + failedHere;
        progress.reason ??= firstReason;
      }
      progress.state = end < total ? "expanding" : progress.failed ? "failed" : "expanded";
      progress.updatedAt = Date.now();
      await d.batches.put(job.batchId, encode(progress));
      msg.working();
    });
    checkpoint.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    inFlight.push(checkpoint);
    if (inFlight.length >= IN_FLIGHT_WINDOWS) await inFlight.shift();
  }
  await checkpoint;
  if (progress.failed) {
    log.error({ total, failed: progress.failed, reason: progress.reason }, "batch expanded in part: some recipients could not be expanded and failed");
    return "failed";
  }
  log.info({ total }, "batch expanded onto MAIL_SEND");
  return "expanded";
}

/** The `failed` event of one recipient that never reached MAIL_SEND. */
type JobIdentity = Pick<BatchJob, "batchId" | "tenant"> & Partial<Pick<BatchJob, "tier" | "metadata">> & { recipients: { count: number } };

function failedEvent(job: JobIdentity, index: number, reason: string, rcptTo?: string): AckedMessage {
  const id = recipientId(job.batchId, index);
  const event: MailEvent = { v: 1, id: eventId(id, "failed"), type: "failed", tenant: job.tenant, messageId: id, requestId: job.batchId, batchId: job.batchId, at: Date.now(), reason };
  if (job.tier !== undefined) event.tier = job.tier;
  if (rcptTo !== undefined) event.rcptTo = rcptTo;
  if (job.metadata !== undefined) event.metadata = job.metadata;
  return { subject: subjects.event(job.tenant, "failed"), data: encode(event), msgID: event.id };
}

/**
 * Fail a whole job: every recipient it names gets a `failed` event (published in windows,
 * de-duplicated by event id if this is redone), then the batch record says failed and why.
 */
async function failJob(d: ExpandDeps, job: JobIdentity, progress: BatchProgress, reason: string, recipients?: BatchRecipient[]): Promise<Outcome> {
  d.logger.error({ batchId: job.batchId, tenant: job.tenant, reason }, "batch cannot be expanded; its recipients fail");
  for (let start = 0; start < job.recipients.count; start += WINDOW) {
    const end = Math.min(job.recipients.count, start + WINDOW);
    const window: AckedMessage[] = [];
    for (let i = start; i < end; i++) window.push(failedEvent(job, i, reason, recipients?.[i]?.to));
    await d.publisher.publish(window, WINDOW_ACK_TIMEOUT_MS);
  }
  await d.batches.put(job.batchId, encode({ ...progress, state: "failed", failed: job.recipients.count, reason, updatedAt: Date.now() } satisfies BatchProgress));
  return "failed";
}

async function readProgress(kv: KV, job: BatchJob): Promise<BatchProgress> {
  const entry = await kv.get(job.batchId);
  if (entry !== null && entry.operation === "PUT") {
    const decoded = decode(BatchProgress, entry.value, "batch progress");
    if (decoded.ok && decoded.value.tenant === job.tenant) return decoded.value;
  }
  // A direct producer may publish a job without the record: start one.
  const now = Date.now();
  return { v: 1, batchId: job.batchId, tenant: job.tenant, total: job.recipients.count, expanded: 0, state: "queued", createdAt: job.createdAt, updatedAt: now };
}

/**
 * A job that fails the BatchJob schema (a direct producer's bug): if it still names its
 * batch, tenant and recipient count, its recipients fail and its record says why, instead
 * of the batch staying `queued` forever. A record of another tenant is left alone.
 */
export async function markUnreadableJob(d: ExpandDeps, data: Uint8Array, error: string): Promise<void> {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data).toString("utf8"));
  } catch {
    return;
  }
  const fields = BatchJob.pick({ batchId: true, tenant: true }).extend({ recipients: z.object({ count: z.number().int().positive().max(1_000_000) }) }).safeParse(raw);
  if (!fields.success) return;
  const job = fields.data;
  const entry = await d.batches.get(job.batchId);
  let progress: BatchProgress = { v: 1, batchId: job.batchId, tenant: job.tenant, total: job.recipients.count, expanded: 0, state: "queued", createdAt: Date.now(), updatedAt: Date.now() };
  if (entry !== null && entry.operation === "PUT") {
    const decoded = decode(BatchProgress, entry.value, "batch progress");
    if (!decoded.ok || decoded.value.tenant !== job.tenant || decoded.value.state !== "queued") return;
    progress = decoded.value;
  }
  await failJob(d, job, progress, `job_invalid: ${error}`);
}
