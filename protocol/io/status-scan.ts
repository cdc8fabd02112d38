import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { decode } from "../codec.ts";
import { recipientId } from "../ids.ts";
import { RecipientRecord, requestOf, statusKey } from "../status.ts";
import { KV_BUCKETS } from "../subjects.ts";
import type { RecipientRow } from "../activity.ts";
import { rowOf } from "../activity.ts";

/**
 * Reads over the status index for the activity search and batch recipient pages (NATS I/O;
 * the queries and matching are in activity.ts). Both are bounded per request: a page scans
 * at most `maxScan` records and answers a cursor to go on, so no request walks a
 * million-key index at once.
 */

const STREAM = `KV_${KV_BUCKETS.status}`;

/**
 * The tenant's recipient records in the order they were last written, from stream sequence
 * `afterSeq` (exclusive) or from `since`. The bucket keeps one message per key, so each
 * record is read once, as it is now. Tenant-scoped by the subject filter itself.
 */
export async function searchStatusIndex(
  js: JetStreamClient,
  tenant: string,
  q: { afterSeq?: number | undefined; since?: number | undefined; limit: number; maxScan: number; match: (r: RecipientRecord) => boolean },
): Promise<{ rows: RecipientRow[]; cursor?: string }> {
  const start =
    q.afterSeq !== undefined
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: q.afterSeq + 1 }
      : q.since !== undefined
        ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(q.since).toISOString() }
        : { deliver_policy: DeliverPolicy.All };
  const consumer = await js.consumers.get(STREAM, { filter_subjects: `$KV.${KV_BUCKETS.status}.${tenant}.*`, ...start });
  const rows: RecipientRow[] = [];
  let lastSeq = q.afterSeq ?? 0;
  let pending = (await consumer.info(true)).num_pending;
  let scanned = 0;
  try {
    while (pending > 0 && scanned < q.maxScan && rows.length < q.limit) {
      const batch = await consumer.fetch({ max_messages: Math.min(pending, q.maxScan - scanned, 256), expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (rows.length >= q.limit) continue; // the rest of this fetch is read again from the cursor
        scanned++;
        lastSeq = m.seq;
        pending = m.info.pending;
        if (m.headers?.get("KV-Operation")) continue; // a deleted or purged key
        const id = m.subject.slice(m.subject.lastIndexOf(".") + 1);
        if (requestOf(id) === undefined) continue; // a request's own record, not a recipient's
        const d = decode(RecipientRecord, m.data, "status record");
        if (d.ok && q.match(d.value)) rows.push(rowOf(id, d.value));
        if (pending === 0) break;
      }
      if (got === 0) break;
    }
  } finally {
    await consumer.delete().catch(() => undefined); // ordered consumers are ephemeral; this frees it at once
  }
  return pending > 0 ? { rows, cursor: String(lastSeq) } : { rows };
}

/**
 * Recipients `from`… of a batch by index (ids are `<batch id>-<index>`), with the status
 * records the index has; at most `maxScan` indexes are read.
 */
export async function readBatchRecipients(
  kv: KV,
  tenant: string,
  batchId: string,
  q: { from: number; total: number; limit: number; maxScan: number; match: (r: RecipientRecord | undefined) => boolean; addressOf?: (index: number) => Promise<string | undefined> },
): Promise<{ rows: RecipientRow[]; cursor?: string }> {
  const rows: RecipientRow[] = [];
  let next = q.from;
  const end = Math.min(q.total, q.from + q.maxScan);
  const CHUNK = 100;
  while (next < end && rows.length < q.limit) {
    const indexes = Array.from({ length: Math.min(CHUNK, end - next) }, (_, i) => next + i);
    const records = await Promise.all(
      indexes.map(async (i) => {
        const e = await kv.get(statusKey(tenant, recipientId(batchId, i)));
        if (e === null || e.operation !== "PUT") return undefined;
        const d = decode(RecipientRecord, e.value, "status record");
        return d.ok ? d.value : undefined;
      }),
    );
    for (let k = 0; k < indexes.length; k++) {
      const i = indexes[k] ?? 0;
      next = i + 1;
      const record = records[k];
      if (!q.match(record)) continue;
      const to = record?.to === undefined && q.addressOf ? await q.addressOf(i) : undefined;
      rows.push(rowOf(recipientId(batchId, i), record, to));
      if (rows.length >= q.limit) break;
    }
  }
  return next < q.total ? { rows, cursor: String(next) } : { rows };
}
