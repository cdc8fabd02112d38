import { z } from "zod";
import { DeliveryWindow } from "../schedule-time.ts";
import { DeliveryMessage, RequestId, Tenant } from "./delivery.ts";

/**
 * The source of truth of one scheduled request or batch, in KV `sluice_schedules` under
 * `<tenant>.<request id>`. Cancel and reschedule are compare-and-set on it; the scheduler
 * releases slice `next` and on only while `state` is `scheduled` and a due entry carries
 * the record's `version` (an entry of an older version is stale and skipped).
 */
export const ScheduleRecord = z
  .object({
    v: z.literal(1),
    requestId: RequestId,
    tenant: Tenant,
    kind: z.enum(["message", "batch"]),
    recipients: z.number().int().positive(),
    /** The plan (protocol/schedule-plan.ts): start, spread and window. */
    start: z.number().int().positive(),
    deliverOverMs: z.number().int().nonnegative(),
    window: DeliveryWindow.optional(),
    expiresAt: z.number().int().positive().optional(),
    /** scheduled: slices from `next` on wait; released: all handed to delivery; cancelled / expired: the rest never will be. */
    state: z.enum(["scheduled", "released", "cancelled", "expired"]),
    version: z.number().int().positive(),
    /** The first slice not yet released. */
    next: z.number().int().nonnegative(),
    /** Slices [next, releasing) are claimed by a release under way; whoever finds it unfinished finishes it. */
    releasing: z.number().int().nonnegative().optional(),
    /** Every held message is written (a batch's fan-out sets it when done; a message is written whole before its record). */
    ready: z.boolean(),
    /**
     * "quota": accepted over the tenant's daily quota (onQuota "hold"), planned for the next
     * UTC day; the scheduler counts each slice against the day's quota as it releases it, and
     * puts off to the following day what does not fit.
     */
    hold: z.literal("quota").optional(),
    /** Recipient indexes cancelled one by one (`POST /v1/messages/<recipient id>/cancel`). */
    cancelled: z.array(z.number().int().nonnegative()).max(1000).optional(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .strict();
export type ScheduleRecord = z.infer<typeof ScheduleRecord>;

/** A wake-up on `mail.sched.due.<second>`: release the request's slices from `slice` on, if `version` is still current. */
export const DueEntry = z
  .object({
    v: z.literal(1),
    tenant: Tenant,
    requestId: RequestId,
    version: z.number().int().positive(),
    slice: z.number().int().nonnegative(),
    at: z.number().int(),
  })
  .strict();
export type DueEntry = z.infer<typeof DueEntry>;

/** A recipient's message waiting on `mail.sched.held.<request id>.<slice>`, with the MAIL_SEND subject it goes to. */
export const HeldMessage = z.object({ subject: z.string().min(1).max(255), message: DeliveryMessage }).strict();
export type HeldMessage = z.infer<typeof HeldMessage>;
