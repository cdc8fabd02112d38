import type { JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { forwardTrace } from "../../protocol/telemetry/index.ts";
import {
  BatchProgress,
  buildBatchDelivery,
  decode,
  deliverySubjects,
  type AckedMessage,
  type AckedPublisher,
  encode,
  RecipientList,
  type BatchJob,
} from "../../protocol/index.ts";

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
  payloads: ObjectStore;
  batches: KV;
  partitions: number;
  logger: Logger;
  stopping(): boolean;
}

export type Outcome = "expanded" | "stopped" | "invalid";

/** Expand one job from its checkpoint on. Throws on NATS trouble (the caller naks; the checkpoint holds). */
export async function expandJob(d: ExpandDeps, msg: JsMsg, job: BatchJob): Promise<Outcome> {
  const log = d.logger.child({ batchId: job.batchId, tenant: job.tenant });
  const progress = await readProgress(d.batches, job);
  if (progress.state === "expanded") return "expanded";

  const bytes = await d.payloads.getBlob(job.recipients.ref);
  if (bytes === null) {
    log.error({ ref: job.recipients.ref }, "batch recipient list is missing from the object store; dropping the job");
    return "invalid";
  }
  const list = decode(RecipientList, bytes, "batch recipient list");
  if (!list.ok || list.value.length !== job.recipients.count) {
    log.error({ reason: list.ok ? `count ${list.value.length} ≠ ${job.recipients.count}` : list.error.message }, "batch recipient list is invalid; dropping the job");
    return "invalid";
  }
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
    for (let i = start; i < end; i++) {
      // createdAt is the job's: a redone window publishes byte-identical messages.
      const o = buildBatchDelivery(job, recipients[i] as (typeof recipients)[number], i, d.partitions, job.createdAt, subjectOf);
      window.push({ subject: o.subject, data: encode(o.message), msgID: o.msgID, headers: trace });
    }
    const acked = d.publisher.publish(window, WINDOW_ACK_TIMEOUT_MS).then(() => published.add(end - start, { tier: job.tier }));
    const previous = checkpoint;
    checkpoint = Promise.all([previous, acked]).then(async () => {
      progress.expanded = end;
      progress.state = end === total ? "expanded" : "expanding";
      progress.updatedAt = Date.now();
      await d.batches.put(job.batchId, encode(progress));
      msg.working();
    });
    checkpoint.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    inFlight.push(checkpoint);
    if (inFlight.length >= IN_FLIGHT_WINDOWS) await inFlight.shift();
  }
  await checkpoint;
  log.info({ total }, "batch expanded onto MAIL_SEND");
  return "expanded";
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
