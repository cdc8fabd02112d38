import { DiscardPolicy, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { decode } from "../codec.ts";
import { listKeys } from "./kv-keys.ts";
import { KV_BUCKETS } from "../subjects.ts";
import { STATUS_EVENTS, MESSAGE_STATUSES, type MessageStatus, type MessageStatusAnswer, statusKey, requestOf, BatchCounts, RecipientRecord, RequestRecord, type StatusCounts } from "../status.ts";

/** The batch's recipients per status (`kv`: sluice_batch_counts); `total` recipients in all, those not yet indexed counted as queued. */
export async function readBatchCounts(kv: KV, tenant: string, batchId: string, total: number): Promise<StatusCounts> {
  const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as StatusCounts;
  const keys = await listKeys(kv, `${tenant}.${batchId}.counts.*`);
  const entries = await Promise.all(keys.map((k) => kv.get(k)));
  for (const e of entries) {
    if (e === null || e.operation !== "PUT") continue;
    const decoded = decode(BatchCounts, e.value, "batch counts");
    if (!decoded.ok) continue;
    for (const [status, n] of Object.entries(decoded.value.counts) as [MessageStatus, number][]) counts[status] += n;
  }
  // A transition out of "queued" was counted as -1 there; recipients never indexed are queued too.
  let indexed = 0;
  for (const s of MESSAGE_STATUSES) if (s !== "queued") indexed += Math.max(0, counts[s]);
  counts.queued = Math.max(0, total - indexed);
  return counts;
}

/** `GET /v1/messages/{id}`: the recipient's record, or `queued` if only its request is known. */
export async function readMessageStatus(kv: KV, tenant: string, id: string): Promise<MessageStatusAnswer | undefined> {
  const req = requestOf(id);
  if (req === undefined) return undefined;
  const [own, request] = await Promise.all([kv.get(statusKey(tenant, id)), kv.get(statusKey(tenant, req.requestId))]);
  let accepted: RequestRecord | undefined;
  if (request !== null && request.operation === "PUT") {
    const decoded = decode(RequestRecord, request.value, "status request record");
    if (decoded.ok) accepted = decoded.value;
  }
  if (own !== null && own.operation === "PUT") {
    const decoded = decode(RecipientRecord, own.value, "status record");
    if (decoded.ok) {
      const events = accepted && decoded.value.events.length < STATUS_EVENTS ? [accepted.accepted, ...decoded.value.events] : decoded.value.events;
      return { id, status: decoded.value.status, events };
    }
  }
  if (accepted !== undefined && req.index < accepted.recipients) return { id, status: "queued", events: [accepted.accepted] };
  return undefined;
}

/**
 * Bound the index: at most `maxEntries` keys and `maxBytes`, the least recently updated
 * going first (discard old). The KV client creates buckets with discard-new, which would
 * stop the indexer when full; this turns the bucket into a bounded, self-evicting cache.
 */
export async function applyStatusLimits(jsm: JetStreamManager, limits: { maxEntries: number; maxBytes: number }): Promise<void> {
  const name = `KV_${KV_BUCKETS.status}`;
  const info = await jsm.streams.info(name);
  const c = info.config;
  if (c.max_msgs === limits.maxEntries && c.max_bytes === limits.maxBytes && c.discard === DiscardPolicy.Old) return;
  await jsm.streams.update(name, { max_msgs: limits.maxEntries, max_bytes: limits.maxBytes, discard: DiscardPolicy.Old });
}

/**
 * The tenant whose message this recipient id is, from the status index (keys are
 * `<tenant>.<id>`): for a VERP address too short to name its tenant (protocol/inbound/verp.ts).
 * The recipient's own record exists once it has an event; the request's from acceptance.
 * Undefined when neither is indexed (never accepted, or evicted from the bounded index).
 */
export async function tenantOfRecipient(kv: KV, recipientId: string): Promise<string | undefined> {
  const req = requestOf(recipientId);
  if (req === undefined) return undefined;
  for (const id of [recipientId, req.requestId]) {
    const [key] = await listKeys(kv, `*.${id}`);
    if (key !== undefined) return key.slice(0, key.length - id.length - 1);
  }
  return undefined;
}
