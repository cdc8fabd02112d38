import { AckPolicy, DeliverPolicy, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { EVENT_TYPES, STREAMS, subjects, type EventTypeName } from "../subjects.ts";
import { type TenantStats } from "../stats.ts";

export async function tenantStats(jsm: JetStreamManager, tenant: string, now = Date.now()): Promise<TenantStats> {
  const events = Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as Record<EventTypeName, number>;
  // At most one subject per event type: the per-subject counts are a short list.
  const info = await jsm.streams.info(STREAMS.events, { subjects_filter: subjects.eventsOf(tenant) });
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    const type = subject.slice(subject.lastIndexOf(".") + 1) as EventTypeName;
    if (type in events) events[type] += count;
  }
  return { scope: "tenant", tenant, at: now, dlq: { messages: await countSubject(jsm, STREAMS.dlq, subjects.dlqOf(tenant)) }, events };
}


/**
 * Messages on `filter` in a limits stream. Dead letters have one subject each, so the
 * per-subject list could be as long as the DLQ; a throwaway consumer's pending count is one
 * answer whatever the size.
 */
async function countSubject(jsm: JetStreamManager, stream: string, filter: string): Promise<number> {
  const ci = await jsm.consumers.add(stream, {
    filter_subject: filter,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    mem_storage: true,
    inactive_threshold: nanos(10_000),
  });
  await jsm.consumers.delete(stream, ci.name).catch(() => undefined); // it expires by itself otherwise
  return ci.num_pending;
}
