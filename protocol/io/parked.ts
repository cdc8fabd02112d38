import { AckPolicy, DeliverPolicy, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { headers as newHeaders, nanos, type MsgHdrs } from "@nats-io/transport-node";
import { PARKED_DELIVERIES_HEADER, PARKED_TIER_HEADER, UNPARKED_HEADER, parkedConsumerName, parseParkedSubject } from "../parking.ts";
import { STREAMS, subjects, TIERS, type TierName } from "../subjects.ts";
import type { AckedMessage } from "./acked-publisher.ts";

/**
 * A parked message is handed back within this: the unparker only republishes and acks.
 * Short, so that after a crash what it had fetched is back on its consumer soon.
 */
const PARKED_ACK_WAIT_MS = 10_000;
/** A (partition, destination) nobody unparks for this long loses its consumer (its messages stay). */
const PARKED_CONSUMER_INACTIVE_MS = 10 * 60_000;

function copyHeaders(from: MsgHdrs | undefined, skip: readonly string[]): MsgHdrs {
  const h = newHeaders();
  if (from) for (const k of from.keys()) if (!skip.includes(k) && k !== "Nats-Msg-Id") h.set(k, from.get(k));
  return h;
}

/** Deliveries a MAIL_SEND message has had in all: the carried count of earlier copies plus this one's. */
export function deliveriesOf(msg: JsMsg): number {
  const carried = Number(msg.headers?.get(PARKED_DELIVERIES_HEADER) ?? 0);
  return (Number.isFinite(carried) && carried > 0 ? carried : 0) + msg.info.deliveryCount;
}

/**
 * The parked copy of a pulled MAIL_SEND message: the same bytes and headers (trace), with
 * its deliveries so far and its tier. De-duplicated by the original's stream sequence, so a
 * crash between this write and the original's ack parks it once.
 */
export function parkedCopy(msg: JsMsg, partition: number, token: string, tier: TierName): AckedMessage {
  const h = copyHeaders(msg.headers, [PARKED_DELIVERIES_HEADER, UNPARKED_HEADER, PARKED_TIER_HEADER]);
  h.set(PARKED_DELIVERIES_HEADER, String(deliveriesOf(msg)));
  h.set(PARKED_TIER_HEADER, tier);
  return { subject: subjects.parked(partition, token), data: msg.data, msgID: `${STREAMS.send}.${msg.seq}`, headers: h };
}

/** A parked message back onto MAIL_SEND (its tier, its partition), de-duplicated by its parked sequence. */
export function unparkedCopy(msg: JsMsg): AckedMessage | undefined {
  const where = parseParkedSubject(msg.subject);
  const tier = msg.headers?.get(PARKED_TIER_HEADER) as TierName | undefined;
  if (where === undefined || tier === undefined || !TIERS.includes(tier)) return undefined;
  const h = copyHeaders(msg.headers, [PARKED_TIER_HEADER, UNPARKED_HEADER]);
  h.set(UNPARKED_HEADER, where.token);
  return { subject: subjects.send(tier, where.partition), data: msg.data, msgID: `${STREAMS.parked}.${msg.seq}`, headers: h };
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
export async function parkedConsumer(js: JetStreamClient, jsm: JetStreamManager, partition: number, token: string): Promise<Consumer> {
  const name = parkedConsumerName(partition, token);
  await jsm.consumers.add(STREAMS.parked, {
    durable_name: name,
    filter_subject: subjects.parked(partition, token),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(PARKED_ACK_WAIT_MS),
    inactive_threshold: nanos(PARKED_CONSUMER_INACTIVE_MS),
  });
  return js.consumers.get(STREAMS.parked, name);
}
