import { z } from "zod";
import { CreateWebhookRequest, MESSAGE_STATUSES, Suppression } from "../../protocol/index.ts";

/** OpenAPI paths of the failure-path routes (dlq, suppressions, webhooks, status), merged into gateway/openapi.ts. */
const schema = (s: z.ZodType): unknown => z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "openapi-3.0" });
const err = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: "error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]));
const json = (description: string, s: unknown = { type: "object" }) => ({ description, content: { "application/json": { schema: s } } });
const path = (name: string, description: string) => ({ name, in: "path", required: true, schema: { type: "string" }, description });
const id = path("id", "recipient id from the send answer (<request id>-<index>)");
const address = path("address", "email address (compared case-insensitively)");

export function failureOpenApiPaths(): Record<string, unknown> {
  const suppression = schema(Suppression);
  return {
    "/v1/messages/{id}": {
      get: {
        summary: "Status of one recipient message and its last 10 events (a bounded recent window; 404 when older)",
        parameters: [id],
        responses: {
          "200": json("status", {
            type: "object",
            properties: {
              id: { type: "string" },
              status: {
                type: "string",
                enum: [...MESSAGE_STATUSES],
                description: "scheduled: waiting for its sendAt; held: accepted over the tenant's daily quota (onQuota hold), released (queued) when the quota renews, counted against that day",
              },
              events: { type: "array", items: { type: "object" } },
            },
          }),
          ...err(400, 401, 403, 404, 503),
        },
      },
    },
    "/v1/dlq": {
      get: {
        summary: "Dead letters of the tenant, oldest first; pass `next` as `after` for the next page",
        parameters: [
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } },
          { name: "after", in: "query", schema: { type: "integer", minimum: 0 } },
        ],
        responses: { "200": json("dead letters", { type: "object", properties: { deadLetters: { type: "array", items: { type: "object" } }, next: { type: "integer" } } }), ...err(400, 401, 403, 503) },
      },
    },
    "/v1/dlq/{id}": {
      get: { summary: "One dead letter: envelope, every attempt, reason", parameters: [id], responses: { "200": json("dead letter"), ...err(400, 401, 403, 404, 503) } },
      delete: { summary: "Delete a dead letter", parameters: [id], responses: { "204": { description: "deleted" }, ...err(400, 401, 403, 404, 503) } },
    },
    "/v1/dlq/{id}/replay": {
      post: { summary: "Send a dead letter again as new (fresh retry window) and remove it from the DLQ", parameters: [id], responses: { "202": json("queued"), ...err(400, 401, 403, 404, 503) } },
    },
    "/v1/suppressions": {
      get: { summary: "The tenant's suppressed addresses", responses: { "200": json("suppressions", { type: "object", properties: { suppressions: { type: "array", items: suppression } } }), ...err(401, 403, 503) } },
    },
    "/v1/suppressions/{address}": {
      get: { summary: "Whether an address is suppressed, and why", parameters: [address], responses: { "200": json("suppressed", suppression), ...err(400, 401, 403, 404, 503) } },
      put: {
        summary: "Suppress an address (reason defaults to manual)",
        parameters: [address],
        requestBody: { required: false, content: { "application/json": { schema: { type: "object", properties: { reason: { type: "string" }, detail: { type: "string" } } } } } },
        responses: { "200": json("suppressed", suppression), ...err(400, 401, 403, 503) },
      },
      delete: { summary: "Lift a suppression", parameters: [address], responses: { "204": { description: "lifted" }, ...err(400, 401, 403, 404, 503) } },
    },
    "/v1/webhooks": {
      post: {
        summary: "Register a webhook endpoint; the answer carries its signing secret, shown only this once",
        description:
          "events: message events (the recipient's lifecycle, `held` included), domain.verified / domain.failed, and the reputation breaker's tenant.paused / tenant.resumed ({id, type, tenant, at, reason, sent, bounceRate, complaintRate}; id `<tenant>.<type>.<at>`). Every POST is signed: Sluice-Signature t=<unix s>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">.",
        requestBody: { required: true, content: { "application/json": { schema: schema(CreateWebhookRequest) } } },
        responses: { "201": json("registered, with `secret`"), ...err(400, 401, 403, 503) },
      },
      get: { summary: "The tenant's webhook endpoints (no secrets)", responses: { "200": json("endpoints"), ...err(401, 403, 503) } },
    },
    "/v1/webhooks/{id}": {
      get: { summary: "One webhook endpoint (no secret)", parameters: [path("id", "webhook id")], responses: { "200": json("endpoint"), ...err(401, 403, 404, 503) } },
      delete: { summary: "Remove an endpoint and its queued deliveries", parameters: [path("id", "webhook id")], responses: { "204": { description: "removed" }, ...err(401, 403, 404, 503) } },
    },
  };
}
