import { AckPolicy, DeliverPolicy, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { headers as newHeaders, nanos, type MsgHdrs } from "@nats-io/transport-node";
import { PARKED_DELIVERIES_HEADER, PARKED_TIER_HEADER, parkedConsumerName, parseParkedSubject } from "../parking.ts";
import { STREAMS, subjects, type TierName } from "../subjects.ts";
import type { AckedMessage } from "./acked-publisher.ts";

/**
 * A (partition, destination) nobody pulls for this long loses its consumer; its messages
 * stay, and the next owner makes it again (a retry then waiting on its delay comes early).
 */
const PARKED_CONSUMER_INACTIVE_MS = 10 * 60_000;

function copyHeaders(from: MsgHdrs | undefined, skip: readonly string[]): MsgHdrs {
  const h = newHeaders();
  if (from) for (const k of from.keys()) if (!skip.includes(k) && k !== "Nats-Msg-Id") h.set(k, from.get(k));
  return h;
}

/** Deliveries a message has had in all: the carried count of earlier copies (before it was parked) plus this one's. */
export function deliveriesOf(msg: JsMsg): number {
  const carried = Number(msg.headers?.get(PARKED_DELIVERIES_HEADER) ?? 0);
  return (Number.isFinite(carried) && carried > 0 ? carried : 0) + msg.info.deliveryCount;
}

/**
 * The parked copy of a pulled message (from MAIL_SEND, or parked before and taken back): the
 * same bytes and headers (trace), with its deliveries so far and its tier. De-duplicated by
 * the original's stream and sequence, so a crash between this write and the original's ack
 * parks it once.
 */
export function parkedCopy(msg: JsMsg, partition: number, token: string, tier: TierName, deliveries: number): AckedMessage {
  const h = copyHeaders(msg.headers, [PARKED_DELIVERIES_HEADER, PARKED_TIER_HEADER]);
  h.set(PARKED_DELIVERIES_HEADER, String(deliveries));
  h.set(PARKED_TIER_HEADER, tier);
  return { subject: subjects.parked(partition, token), data: msg.data, msgID: `${msg.info.stream}.${msg.seq}`, headers: h };
}

/** Destinations with parked mail, per partition (stream info with a subjects filter: nats-server 2.9). */
export async function parkedDestinations(jsm: JetStreamManager): Promise<Map<number, Map<string, number>>> {
  const info = await jsm.streams.info(STREAMS.parked, { subjects_filter: subjects.parkedAll });
  const out = new Map<number, Map<string, number>>();
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    const where = parseParkedSubject(subject);
    if (where === undefined || count <= 0) continue;
    const of = out.get(where.partition) ?? new Map<string, number>();
    of.set(where.token, count);
    out.set(where.partition, of);
  }
  return out;
}

/** The durable consumer of one (partition, destination)'s parked mail, created if missing. */
export async function parkedConsumer(js: JetStreamClient, jsm: JetStreamManager, partition: number, token: string, ackWaitMs: number): Promise<Consumer> {
  const name = parkedConsumerName(partition, token);
  await jsm.consumers.add(STREAMS.parked, {
    durable_name: name,
    filter_subject: subjects.parked(partition, token),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // Taken-back mail waits in its destination's queue like MAIL_SEND's, kept alive by working().
    ack_wait: nanos(ackWaitMs),
    inactive_threshold: nanos(Math.max(PARKED_CONSUMER_INACTIVE_MS, 2 * ackWaitMs)),
  });
  return js.consumers.get(STREAMS.parked, name);
}
