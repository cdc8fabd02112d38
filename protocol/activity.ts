import { z } from "zod";
import { matchingAddress } from "./canonical-address.ts";
import { MESSAGE_STATUSES, StatusEvent, type RecipientRecord } from "./status.ts";

/**
 * Message activity search and batch recipient pages over the status index, the pure part:
 * the queries, what matches, and the rows. The scans themselves are in status-scan.ts.
 */

/** A time as epoch milliseconds or an ISO 8601 date (a query string: always text). */
const Instant = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const t = /^\d{1,15}$/.test(v) ? Number(v) : Date.parse(v);
    if (Number.isNaN(t)) {
      ctx.addIssue({ code: "custom", message: "must be epoch milliseconds or an ISO 8601 date" });
      return z.NEVER;
    }
    return t;
  });

const Limit = z.coerce.number().int().min(1).max(1000).default(100);
const Cursor = z.string().regex(/^\d{1,15}$/, "is not a cursor from a previous answer");

/** GET /v1/messages?to=&tag=&status=&since=&cursor=&limit= */
export const ActivityQuery = z
  .object({
    to: z.string().min(1).max(320).optional().describe("recipient address (the domain compared case-insensitively, as suppressions compare)"),
    tag: z.string().min(1).max(64).optional().describe("one of the message's tags"),
    status: z.enum(MESSAGE_STATUSES).optional().describe("current status"),
    since: Instant.optional().describe("updated at or after this time: epoch milliseconds or ISO 8601"),
    cursor: Cursor.optional().describe("from the previous page"),
    limit: Limit.describe("rows per page (1-1000)"),
  })
  .strict();
export type ActivityQuery = z.output<typeof ActivityQuery>;

/** GET /v1/batches/{id}/recipients?status=&cursor=&limit= */
export const RecipientPageQuery = z
  .object({
    status: z.enum(MESSAGE_STATUSES).optional().describe("only recipients in this status"),
    cursor: Cursor.optional().describe("from the previous page"),
    limit: Limit.describe("rows per page (1-1000)"),
  })
  .strict();
export type RecipientPageQuery = z.output<typeof RecipientPageQuery>;

/** One row of either answer. */
export const RecipientRow = z
  .object({
    id: z.string().describe("recipient id (<request id>-<index>)"),
    to: z.string().optional().describe("the recipient's address"),
    status: z.enum(MESSAGE_STATUSES),
    tags: z.array(z.string()).optional(),
    lastEvent: StatusEvent.optional(),
  })
  .strict();
export type RecipientRow = z.infer<typeof RecipientRow>;

const CursorOut = z.string().optional().describe("absent on the last page; pass it as `cursor` for the next one");
export const RecipientPage = z.object({ batchId: z.string(), recipients: z.array(RecipientRow), cursor: CursorOut }).strict();
export const ActivityPage = z.object({ messages: z.array(RecipientRow), cursor: CursorOut }).strict();

export function rowOf(id: string, record: RecipientRecord | undefined, to?: string): RecipientRow {
  const row: RecipientRow = { id, status: record?.status ?? "queued" };
  const address = record?.to ?? to;
  if (address !== undefined) row.to = address;
  if (record?.tags !== undefined) row.tags = record.tags;
  const last = record?.events[record.events.length - 1];
  if (last !== undefined) row.lastEvent = last;
  return row;
}

/** Whether an indexed recipient matches the search (`to` compared as suppressions compare addresses). */
export function activityMatcher(q: Pick<ActivityQuery, "to" | "tag" | "status">): (r: RecipientRecord) => boolean {
  const to = q.to === undefined ? undefined : matchingAddress(q.to);
  return (r) =>
    (q.status === undefined || r.status === q.status) &&
    (q.tag === undefined || (r.tags?.includes(q.tag) ?? false)) &&
    (to === undefined || (r.to !== undefined && matchingAddress(r.to) === to));
}

/** Terminal statuses: a batch whose recipients are all in one of these is `completed`. */
export const TERMINAL_STATUSES: readonly string[] = ["delivered", "bounced", "failed", "suppressed", "dead_lettered", "expired", "cancelled"];

/** The batch state a reader sees: `completed` once expanded and every recipient is terminal. */
export function batchState<S extends string>(state: S, total: number, counts: Partial<Record<string, number>>): S | "completed" {
  if (state !== "expanded") return state;
  let terminal = 0;
  for (const s of TERMINAL_STATUSES) terminal += counts[s] ?? 0;
  return total > 0 && terminal >= total ? "completed" : state;
}
