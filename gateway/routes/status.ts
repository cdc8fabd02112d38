import type { FastifyInstance } from "fastify";
import { requestOf } from "../../protocol/index.ts";
import { readMessageStatus } from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";
import { callerOf } from "./caller.ts";

/** `GET /v1/messages/{id}` → `{"id", "status", "events": [...]}` for a recipient id from the send answer. */
export function statusRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  app.get("/v1/messages/:id", async (request) => {
    const { tenant } = callerOf(request, "read");
    const id = (request.params as { id?: string }).id ?? "";
    if (requestOf(id) === undefined) throw new HttpError(400, "invalid_id", `"${id}" is not a recipient id (<request id>-<index>, as in the send answer)`, "id");
    const answer = await readMessageStatus((await ctx.deps()).status, tenant, id);
    // Unknown, another tenant's, or older than what the bounded index keeps.
    if (answer === undefined) throw new HttpError(404, "not_found", `no status for message ${id}`, "id");
    return answer;
  });
}
