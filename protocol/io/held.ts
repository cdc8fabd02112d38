import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { AckPolicy } from "@nats-io/jetstream";
import { STREAMS, subjects, type TierName } from "../subjects.ts";

/**
 * Hold a MAIL_SEND message off the send stream: the same bytes under
 * `mail.held.<tenant>.<tier>.<partition>`; the caller acks the original once this resolves.
 * The msgID makes a repeat (a crash between the two) a duplicate.
 */
export async function holdMessage(js: JetStreamClient, m: { tenant: string; tier: TierName; partition: number; id: string; data: Uint8Array; deliveryCount: number }): Promise<void> {
  await js.publish(subjects.held(m.tenant, m.tier, m.partition), m.data, { msgID: `${m.id}.held.${m.deliveryCount}` });
}

/** Put a tenant's held messages back on MAIL_SEND (same tier and partition); returns how many. */
export async function releaseHeld(js: JetStreamClient, jsm: JetStreamManager, tenant: string): Promise<number> {
  const ci = await jsm.consumers.add(STREAMS.held, { ack_policy: AckPolicy.Explicit, filter_subject: subjects.heldOf(tenant), inactive_threshold: 60_000_000_000 });
  let released = 0;
  try {
    const consumer = await js.consumers.get(STREAMS.held, ci.name);
    for (;;) {
      const pending = (await consumer.info()).num_pending;
      if (pending === 0) break;
      const batch = await consumer.fetch({ max_messages: Math.min(pending, 500), expires: 2000 });
      const msgs: JsMsg[] = [];
      for await (const m of batch) msgs.push(m);
      if (msgs.length === 0) break;
      await Promise.all(
        msgs.map(async (m) => {
          const [, , , tier, partition] = m.subject.split(".");
          // A fresh msgID: the original's may still be in MAIL_SEND's duplicate window.
          await js.publish(`mail.send.${tier}.${partition}`, m.data, { msgID: `${STREAMS.held}.${m.seq}` });
          await m.ackAck();
        }),
      );
      released += msgs.length;
    }
  } finally {
    await jsm.consumers.delete(STREAMS.held, ci.name).catch(() => undefined); // gone with inactive_threshold anyway
  }
  return released;
}
