import { z } from "zod";
import { EVENT_TYPES } from "../subjects.ts";
import { Attempt, DeliveryMessage, RecipientId, RequestId, StringMap, Tenant, Tier } from "./delivery.ts";

export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const SmtpReply = z.object({
  code: z.number().int().min(0).max(599),
  enhanced: z.string().optional(),
  text: z.string(),
});
export type SmtpReply = z.infer<typeof SmtpReply>;

/** One status transition of one recipient message, on `mail.events.<tenant>.<type>`. */
export const MailEvent = z
  .object({
    v: z.literal(1),
    /** Unique per event; also the JetStream msgID, so a re-published event is stored once. */
    id: z.string().min(1).max(128),
    type: EventType,
    tenant: Tenant,
    messageId: RecipientId,
    requestId: RequestId.optional(),
    batchId: RequestId.optional(),
    tier: Tier.optional(),
    rcptTo: z.string().optional(),
    /** The message's tags: activity search (`GET /v1/messages?tag=`) and webhooks see them. */
    tags: z.array(z.string().max(64)).max(20).optional(),
    at: z.number().int(),
    attempt: z.number().int().nonnegative().optional(),
    mx: z.string().optional(),
    reply: SmtpReply.optional(),
    category: z.string().optional(),
    reason: z.string().optional(),
    nextAttemptAt: z.number().int().optional(),
    metadata: StringMap.optional(),
    /** The event came back after the 250 (a bounce, complaint or auto-reply received by the inbound role). */
    async: z.boolean().optional(),
  })
  .strict();
export type MailEvent = z.infer<typeof MailEvent>;

/** One message on `mail.dlq.<tenant>`: everything needed to understand and replay it. */
export const DeadLetter = z
  .object({
    v: z.literal(1),
    id: RecipientId,
    tenant: Tenant,
    at: z.number().int(),
    reason: z.object({ code: z.string(), message: z.string(), category: z.string().optional() }).strict(),
    message: DeliveryMessage,
    attempts: z.array(Attempt),
  })
  .strict();
export type DeadLetter = z.infer<typeof DeadLetter>;
