import type { MailEvent } from "./schemas/event.ts";

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
