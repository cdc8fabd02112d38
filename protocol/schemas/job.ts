import { z } from "zod";
import { EmailAddress } from "./address.ts";
import { RequestId, StringMap, Tenant, Tier, Vars } from "./delivery.ts";
import { PayloadRef } from "./payload.ts";
import { DeliveryWindow } from "../schedule-time.ts";

export const BatchRecipient = z.object({ to: EmailAddress, vars: Vars.optional() }).strict();
export type BatchRecipient = z.infer<typeof BatchRecipient>;

/**
 * One message on `MAIL_JOBS`. The recipient list can be 100,000 entries, far above a
 * NATS message, so it lives in the object store too (`recipients.ref`, a JSON array).
 */
export const BatchJob = z
  .object({
    v: z.literal(1),
    batchId: RequestId,
    tenant: Tenant,
    tier: Tier,
    mailFrom: EmailAddress,
    payload: PayloadRef.strict(),
    recipients: z.object({ ref: z.string().min(1), count: z.number().int().positive() }).strict(),
    tags: z.array(z.string().max(64)).max(20).optional(),
    metadata: StringMap.optional(),
    createdAt: z.number().int().positive(),
    /** Scheduling: recipients are not delivered after this instant. */
    expiresAt: z.number().int().positive().optional(),
    /**
     * Scheduling: the release plan (protocol/schedule-plan.ts). With it, the fan-out files the
     * recipients into held slices on MAIL_SCHEDULED instead of MAIL_SEND; the scheduler releases them.
     */
    schedule: z
      .object({ start: z.number().int().positive(), deliverOverMs: z.number().int().nonnegative(), window: DeliveryWindow.optional(), hold: z.literal("quota").optional() })
      .strict()
      .optional(),
  })
  .strict();
export type BatchJob = z.infer<typeof BatchJob>;
