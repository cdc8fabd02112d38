import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { forwardTrace } from "../../protocol/telemetry/index.ts";
import {
  BatchProgress,
  buildBatchDelivery,
  decode,
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
 * duplicate window.
 */
export const WINDOW = 1000;
export const IN_FLIGHT_WINDOWS = 2;

export interface ExpandDeps {
  js: JetStreamClient;
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
  // Two windows in flight: the next is published while the previous one's acks arrive.
  // The checkpoint only ever covers windows whose every message was acknowledged.
  const pending: { end: number; acks: Promise<unknown> }[] = [];
  const settleOldest = async (): Promise<void> => {
    const w = pending.shift();
    if (w === undefined) return;
    await w.acks;
    progress.expanded = w.end;
    progress.state = w.end === total ? "expanded" : "expanding";
    progress.updatedAt = Date.now();
    await d.batches.put(job.batchId, encode(progress));
    msg.working();
  };
  for (let start = progress.expanded; start < total; start += WINDOW) {
    if (d.stopping()) {
      await Promise.allSettled(pending.map((w) => w.acks));
      return "stopped";
    }
    const end = Math.min(total, start + WINDOW);
    const acks: Promise<unknown>[] = [];
    for (let i = start; i < end; i++) {
      // createdAt is the job's: a redone window publishes byte-identical messages.
      const o = buildBatchDelivery(job, recipients[i] as (typeof recipients)[number], i, d.partitions, job.createdAt);
      acks.push(d.js.publish(o.subject, encode(o.message), { msgID: o.msgID, headers: trace }));
    }
    const acked = Promise.all(acks).then(() => published.add(end - start, { tier: job.tier }));
    acked.catch(() => undefined); // awaited in settleOldest; never an unhandled rejection meanwhile
    pending.push({ end, acks: acked });
    if (pending.length >= IN_FLIGHT_WINDOWS) await settleOldest();
  }
  while (pending.length > 0) await settleOldest();
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
