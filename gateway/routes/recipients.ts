import type { FastifyInstance } from "fastify";
import {
  ActivityPage,
  ActivityQuery,
  activityMatcher,
  check,
  RecipientList,
  RecipientPage,
  RecipientPageQuery,
  decode,
} from "../../protocol/index.ts";
import { readBatchRecipients, searchStatusIndex } from "../../protocol/io/index.ts";
import { authOf, requireScope } from "../auth.ts";
import type { GatewayContext } from "../context.ts";
import { errorStatuses, idParam } from "../route-docs.ts";
import { loadBatch } from "./batches.ts";
import { asAcceptFailure } from "./messages.ts";

/** Records one request reads at most; past it the answer carries a cursor to go on. */
const MAX_SCAN = 5000;

/**
 * Per-recipient results over the status index: a batch's recipients by index
 * (`GET /v1/batches/{id}/recipients`) and the tenant's message activity
 * (`GET /v1/messages?to=&tag=&status=&since=`). Both paginate with an opaque `cursor`;
 * an answer without one is the last page.
 */
export function recipientRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const page = {
    operationId: "listBatchRecipients",
    tags: ["results"],
    summary: "A batch's recipients in order, with address, status and last event; cursor-paginated (one request reads at most 5,000 recipients)",
  };
  const pageSchema = { ...page, params: idParam("batch id"), querystring: RecipientPageQuery, response: { 200: RecipientPage, ...errorStatuses(404) } };
  app.get<{ Params: { id: string } }>("/v1/batches/:id/recipients", { schema: pageSchema, preHandler: requireScope("read") }, async (request) => {
    const { tenant } = authOf(request);
    const q = check(RecipientPageQuery, request.query ?? {}, "query");
    if (!q.ok) throw q.error;
    const batch = await loadBatch(ctx, tenant, request.params.id);
    const deps = await ctx.deps();
    // Recipients the index has not seen yet (still queued) are named from the batch's own list, read once.
    let list: Promise<{ to: string }[] | undefined> | undefined;
    const addressOf = async (index: number): Promise<string | undefined> => {
      if (batch.recipientsRef === undefined) return undefined;
      const ref = batch.recipientsRef;
      list ??= deps.producer.payloads.getBlob(ref).then((bytes) => {
        const d = bytes === null ? undefined : decode(RecipientList, bytes, "recipient list");
        return d?.ok ? d.value : undefined;
      });
      return (await list)?.[index]?.to;
    };
    const status = q.value.status;
    const rows = await readBatchRecipients(deps.status, tenant, batch.batchId, {
      from: q.value.cursor === undefined ? 0 : Number(q.value.cursor),
      total: batch.total,
      limit: q.value.limit,
      maxScan: MAX_SCAN,
      match: (r) => status === undefined || (r?.status ?? "queued") === status,
      addressOf,
    }).catch((e: unknown) => {
      throw asAcceptFailure(e);
    });
    return { batchId: batch.batchId, recipients: rows.rows, ...(rows.cursor === undefined ? {} : { cursor: rows.cursor }) };
  });

  const search = {
    operationId: "searchMessages",
    tags: ["results"],
    summary:
      "Message activity of the tenant in the order it was last updated, filtered by address, tag, status and time; cursor-paginated (one request reads at most 5,000 records of the status index)",
  };
  app.get("/v1/messages", { schema: { ...search, querystring: ActivityQuery, response: { 200: ActivityPage } }, preHandler: requireScope("read") }, async (request) => {
    const { tenant } = authOf(request);
    const q = check(ActivityQuery, request.query ?? {}, "query");
    if (!q.ok) throw q.error;
    const deps = await ctx.deps();
    const page = await searchStatusIndex(deps.js, tenant, {
      afterSeq: q.value.cursor === undefined ? undefined : Number(q.value.cursor),
      since: q.value.since,
      limit: q.value.limit,
      maxScan: MAX_SCAN,
      match: activityMatcher(q.value),
    }).catch((e: unknown) => {
      throw asAcceptFailure(e);
    });
    return { messages: page.rows, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
  });
}
