import type { MailEvent } from "./schemas/event.ts";
import type { DeliveryMessage } from "./schemas/delivery.ts";

/**
 * The id of an event is deterministic (message id, replay generation, type, attempt), and
 * it is the JetStream msgID: a node that crashes after publishing but before acking
 * publishes the same id again and JetStream stores it once. A replayed message starts a
 * new attempt series (`replay` = n after the n-th replay): its events get new ids, or
 * the duplicate window would drop them as repeats of the first series' (and their webhooks,
 * whose ids derive from the event's, with them).
 */
export const eventId = (messageId: string, type: MailEvent["type"], attempt = 0, replay?: number): string =>
  replay ? `${messageId}.r${replay}.${type}.${attempt}` : `${messageId}.${type}.${attempt}`;

/** What of a recipient's message every event about it carries. */
type EventSource = Pick<DeliveryMessage, "id" | "tenant" | "requestId" | "batchId" | "tier" | "rcptTo" | "metadata" | "tags" | "replay">;

/**
 * An event about one recipient's message, with everything webhooks and the status index
 * read from it (batch, metadata, tags); `attempt` numbers it within the message's series.
 */
export function messageEvent(m: EventSource, type: MailEvent["type"], at: number, attempt = 0): MailEvent {
  const event: MailEvent = { v: 1, id: eventId(m.id, type, attempt, m.replay), type, tenant: m.tenant, messageId: m.id, requestId: m.requestId, tier: m.tier, rcptTo: m.rcptTo, at };
  if (m.batchId !== undefined) event.batchId = m.batchId;
  if (m.metadata !== undefined) event.metadata = m.metadata;
  if (m.tags !== undefined) event.tags = m.tags;
  return event;
}
