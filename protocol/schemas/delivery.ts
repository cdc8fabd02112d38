import { z } from "zod";
import { ID_PATTERN, RECIPIENT_ID_PATTERN } from "../ids.ts";
import { TENANT_PATTERN, TIERS } from "../subjects.ts";
import { EmailAddress } from "./address.ts";
import { PayloadPointer } from "./payload.ts";

export const Tier = z.enum(TIERS);
export type Tier = z.infer<typeof Tier>;
export const Tenant = z.string().regex(TENANT_PATTERN, "is not a tenant name ([a-z0-9][a-z0-9_-]*, at most 63)");
export const RecipientId = z.string().regex(RECIPIENT_ID_PATTERN, "is not a recipient id");
export const RequestId = z.string().regex(ID_PATTERN, "is not a Sluice id");

export const Vars = z.record(z.string().max(64), z.string().max(10_000));
export const StringMap = z.record(z.string().max(64), z.string().max(1024));

/** One SMTP (or connection) outcome, kept with the message and in the dead letter. */
export const Attempt = z.object({
  at: z.number().int(),
  mx: z.string().optional(),
  code: z.number().int().min(0).max(599).optional(),
  enhanced: z.string().optional(),
  text: z.string(),
  outcome: z.enum(["delivered", "retry", "bounce"]),
  category: z.string().optional(),
});
export type Attempt = z.infer<typeof Attempt>;

/**
 * One message on `MAIL_SEND`: one recipient, small metadata and a pointer to the payload.
 * The same schema validates what the gateway, the fan-out actor and direct producers publish.
 */
export const DeliveryMessage = z
  .object({
    v: z.literal(1),
    id: RecipientId,
    requestId: RequestId,
    batchId: RequestId.optional(),
    tenant: Tenant,
    tier: Tier,
    mailFrom: EmailAddress,
    rcptTo: EmailAddress,
    payload: PayloadPointer,
    vars: Vars.optional(),
    tags: z.array(z.string().max(64)).max(20).optional(),
    metadata: StringMap.optional(),
    createdAt: z.number().int().positive(),
    attempts: z.array(Attempt).max(200).default([]),
    /** Replay generation: n after the n-th replay from the DLQ (a new attempt series, new event ids). */
    replay: z.number().int().positive().optional(),
    /** Not delivered by then (unix ms): never delivered, terminal status `expired` (scheduling). */
    expiresAt: z.number().int().positive().optional(),
  })
  .strict();
export type DeliveryMessage = z.infer<typeof DeliveryMessage>;
export type DeliveryMessageInput = z.input<typeof DeliveryMessage>;
