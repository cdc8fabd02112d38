import { z } from "zod";
import { EmailAddress } from "./address.ts";
import { RequestId, StringMap, Tenant, Tier, Vars } from "./delivery.ts";
import { PayloadRef } from "./payload.ts";

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
  })
  .strict();
export type BatchJob = z.infer<typeof BatchJob>;
