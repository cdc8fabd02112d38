import { z } from "zod";
import { ActivityQuery, MESSAGE_STATUSES, RecipientPageQuery, TemplateInput } from "../protocol/index.ts";

/**
 * OpenAPI paths of the developer-experience routes (templates, per-recipient results,
 * stats, metrics) and the finishing pass every operation goes through (operationId, the
 * errors every route of its kind can answer). Merged into gateway/openapi.ts.
 */
const schema = (s: z.ZodType): unknown => z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "openapi-3.0" });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, s: unknown = { type: "object" }) => ({ description, content: { "application/json": { schema: s } } });
const pathParam = (name: string, description: string) => ({ name, in: "path", required: true, schema: { type: "string" }, description });
const body = (s: unknown) => ({ required: true, content: { "application/json": { schema: s } } });
/** Query parameters from a zod object, one per field. */
const queryParams = (s: z.ZodObject, descriptions: Record<string, string>) =>
  Object.entries(s.shape).map(([name, field]) => ({ name, in: "query", required: false, schema: schema(field as z.ZodType), description: descriptions[name] ?? "" }));

const StatusEvent = { type: "object", properties: { type: { type: "string" }, at: { type: "integer" }, attempt: { type: "integer" }, mx: { type: "string" }, reply: { type: "object" }, category: { type: "string" }, reason: { type: "string" }, nextAttemptAt: { type: "integer" } } };
const RecipientRow = {
  type: "object",
  required: ["id", "status"],
  properties: {
    id: { type: "string", description: "recipient id (<request id>-<index>)" },
    to: { type: "string", description: "the recipient's address (absent only for an old index record)" },
    status: { type: "string", enum: [...MESSAGE_STATUSES] },
    tags: { type: "array", items: { type: "string" } },
    lastEvent: StatusEvent,
  },
};
const cursor = { type: "string", description: "absent on the last page; pass it as `cursor` for the next one" };
const TemplateView = {
  type: "object",
  required: ["id", "name", "version", "subject", "variables", "createdAt"],
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    version: { type: "integer", minimum: 1 },
    subject: { type: "string" },
    text: { type: "string" },
    html: { type: "string" },
    variables: { type: "array", items: { type: "string" }, description: "the {{placeholders}} it uses" },
    createdAt: { type: "integer" },
  },
};
const templateId = pathParam("id", "template id");

export const dxSchemas = (): Record<string, unknown> => ({ TemplateInput: schema(TemplateInput), TemplateView, RecipientRow });

export function dxOpenApiPaths(): Record<string, unknown> {
  return {
    "/v1/templates": {
      post: {
        operationId: "createTemplate",
        tags: ["templates"],
        summary: "Store a template (version 1); `{{name}}` placeholders are filled from each recipient's vars at send time",
        requestBody: body(ref("TemplateInput")),
        responses: { "201": json("stored", ref("TemplateView")) },
      },
      get: {
        operationId: "listTemplates",
        tags: ["templates"],
        summary: "The tenant's templates, newest first",
        responses: {
          "200": json("templates", {
            type: "object",
            properties: { templates: { type: "array", items: { type: "object", properties: { id: { type: "string" }, name: { type: "string" }, latest: { type: "integer" }, createdAt: { type: "integer" }, updatedAt: { type: "integer" } } } } },
          }),
        },
      },
    },
    "/v1/templates/{id}": {
      get: {
        operationId: "getTemplate",
        tags: ["templates"],
        summary: "One template: its latest version, or `?version=n`",
        parameters: [templateId, { name: "version", in: "query", required: false, schema: { type: "integer", minimum: 1 } }],
        responses: { "200": json("the version", ref("TemplateView")), "404": {} },
      },
      put: {
        operationId: "updateTemplate",
        tags: ["templates"],
        summary: "Store the next version (earlier ones stay readable and sendable by number)",
        parameters: [templateId],
        requestBody: body(ref("TemplateInput")),
        responses: { "200": json("the new version", ref("TemplateView")), "404": {} },
      },
      delete: {
        operationId: "deleteTemplate",
        tags: ["templates"],
        summary: "Delete the template and all its versions",
        parameters: [templateId],
        responses: { "204": { description: "deleted" }, "404": {} },
      },
    },
    "/v1/templates/{id}/render": {
      post: {
        operationId: "renderTemplate",
        tags: ["templates"],
        summary: "Preview: the template filled with `vars` as the node fills it (html-escaped in html); `missing` lists what was left empty",
        parameters: [templateId],
        requestBody: body({ type: "object", properties: { vars: { type: "object", additionalProperties: { type: "string" } }, version: { type: "integer", minimum: 1 } } }),
        responses: {
          "200": json("rendered", {
            type: "object",
            required: ["id", "version", "subject", "missing"],
            properties: { id: { type: "string" }, version: { type: "integer" }, subject: { type: "string" }, text: { type: "string" }, html: { type: "string" }, missing: { type: "array", items: { type: "string" } } },
          }),
          "404": {},
        },
      },
    },
    "/v1/batches/{id}/recipients": {
      get: {
        operationId: "listBatchRecipients",
        tags: ["results"],
        summary: "A batch's recipients in order, with address, status and last event; cursor-paginated (one request reads at most 5,000 recipients)",
        parameters: [pathParam("id", "batch id"), ...queryParams(RecipientPageQuery, { status: "only recipients in this status", cursor: "from the previous page", limit: "rows per page (1-1000)" })],
        responses: { "200": json("a page", { type: "object", required: ["batchId", "recipients"], properties: { batchId: { type: "string" }, recipients: { type: "array", items: ref("RecipientRow") }, cursor } }), "404": {} },
      },
    },
    "/v1/stats": {
      get: {
        operationId: "getStats",
        tags: ["operations"],
        summary: "Delivery figures: the tenant's own, or (operator key) the whole cluster's with history",
        parameters: [
          { name: "tenant", in: "query", required: false, schema: { type: "string" }, description: "operator keys: another tenant's figures" },
          { name: "history", in: "query", required: false, schema: { type: "string", enum: ["0", "1"] } },
          { name: "since", in: "query", required: false, schema: { type: "integer" }, description: "only history samples after this time (ms)" },
        ],
        responses: { "200": json("figures") },
      },
    },
    "/metrics": {
      get: {
        operationId: "getMetrics",
        tags: ["operations"],
        summary: "Prometheus exposition of this process's sluice_ metrics (operator key)",
        responses: { "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
  };
}

/** Query parameters of the activity search (GET /v1/messages), merged into that path. */
export function activitySearchOperation(): unknown {
  return {
    operationId: "searchMessages",
    tags: ["results"],
    summary: "Message activity of the tenant, most recently updated last, filtered by address, tag, status and time; cursor-paginated (one request reads at most 5,000 records of the status index)",
    parameters: queryParams(ActivityQuery, {
      to: "recipient address (compared case-insensitively in the domain)",
      tag: "one of the message's tags",
      status: "current status",
      since: "updated at or after this time: epoch milliseconds or ISO 8601",
      cursor: "from the previous page",
      limit: "rows per page (1-1000)",
    }),
    responses: { "200": json("a page", { type: "object", required: ["messages"], properties: { messages: { type: "array", items: ref("RecipientRow") }, cursor } }) },
  };
}

// ---------------------------------------------------------------- finishing pass

const ERROR_DESCRIPTIONS: Record<string, string> = {
  "400": "invalid request: `error.field` names the field, `error.message` says why, `error.code` is stable (see the Error schema); also malformed HTTP",
  "401": "missing, unknown or revoked API key (the message says which, and how to send it)",
  "403": "the key lacks the needed scope (the message names the command that makes one that has it)",
  "404": "no such resource for this tenant",
  "409": "Idempotency-Key reused with another body, or its first request is still running",
  "413": "body over the endpoint's limit, or a recipient's message would exceed NATS max_payload (message_too_large: do not retry)",
  "415": "body is not application/json",
  "429": "key over its rate; see Retry-After",
  "500": "a bug: see the gateway log",
  "503": "NATS unreachable, stream full, or not ready: nothing was accepted; see Retry-After",
};
const errorResponse = (status: string) => ({ description: ERROR_DESCRIPTIONS[status] ?? "error", content: { "application/json": { schema: ref("Error") } } });
/** The reference's sections, by path. */
const tagOf = (method: string, path: string): string => {
  if (path === "/v1/messages" || path === "/v1/batches") return method === "post" ? "sending" : "results";
  if (path.startsWith("/v1/messages/") || path.startsWith("/v1/batches/")) return "results";
  const first = path.split("/")[path.startsWith("/v1/") ? 2 : 1] ?? "";
  return ({ dlq: "failures", suppressions: "failures", webhooks: "webhooks", templates: "templates", stats: "operations", metrics: "operations", healthz: "operations", readyz: "operations" } as Record<string, string>)[first] ?? first;
};
const operationIdOf = (method: string, path: string): string =>
  method + path.split(/[/{}.-]+/).filter(Boolean).map((w) => w[0]?.toUpperCase() + w.slice(1)).join("");

/**
 * Every operation gets an operationId (generated from method and path if it has none) and
 * the errors every route of its kind can answer, in the one error shape: any request can be
 * malformed (400) or fail inside (500); an authenticated one can lack a key (401), a scope
 * (403), be over its rate (429) or meet NATS away (503); one with a body can be too large
 * (413) or not JSON (415). An error status listed without a body (`"404": {}`) gets it here.
 */
export function finishOperations(paths: Record<string, Record<string, Record<string, unknown>>>): void {
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      op.operationId ??= operationIdOf(method, path);
      op.tags ??= [tagOf(method, path)];
      const responses = (op.responses ??= {}) as Record<string, unknown>;
      const authenticated = op.security === undefined || (Array.isArray(op.security) && op.security.length > 0);
      const statuses = ["400", "500", ...(authenticated ? ["401", "403", "429", "503"] : []), ...(op.requestBody ? ["413", "415"] : [])];
      for (const s of statuses) responses[s] ??= errorResponse(s);
      for (const [s, r] of Object.entries(responses)) if (Number(s) >= 400 && (r === null || Object.keys(r as object).length === 0)) responses[s] = errorResponse(s);
    }
  }
}

/** Names of the operations written before the finishing pass existed (kept out of their files). */
export const NAMED_OPERATIONS: Record<string, string> = {
  "post /v1/messages": "sendMessage",
  "get /v1/messages/{id}": "getMessageStatus",
  "post /v1/batches": "sendBatch",
  "get /v1/batches/{id}": "getBatch",
  "get /v1/dlq": "listDeadLetters",
  "get /v1/dlq/{id}": "getDeadLetter",
  "delete /v1/dlq/{id}": "deleteDeadLetter",
  "post /v1/dlq/{id}/replay": "replayDeadLetter",
  "get /v1/suppressions": "listSuppressions",
  "get /v1/suppressions/{address}": "getSuppression",
  "put /v1/suppressions/{address}": "suppressAddress",
  "delete /v1/suppressions/{address}": "liftSuppression",
  "post /v1/webhooks": "createWebhook",
  "get /v1/webhooks": "listWebhooks",
  "get /v1/webhooks/{id}": "getWebhook",
  "delete /v1/webhooks/{id}": "deleteWebhook",
  "get /healthz": "healthz",
  "get /readyz": "readyz",
};

/**
 * A send request may name a stored template instead of giving subject/text/html: the zod
 * schema validates the request after the gateway has put the template's content in, so the
 * spec adds the template fields and no longer requires `subject`.
 */
export function withTemplateFields(s: unknown): unknown {
  const o = s as { properties?: Record<string, unknown>; required?: string[] };
  return {
    ...o,
    description: "Give subject and text and/or html, or `templateId` (+ `templateVersion`) of a stored template (POST /v1/templates), not both.",
    required: (o.required ?? []).filter((r) => r !== "subject"),
    properties: {
      ...o.properties,
      templateId: { type: "string", description: "a stored template: its subject, text and html are used" },
      templateVersion: { type: "integer", minimum: 1, description: "a version of that template (default: the latest)" },
      strictVars: { type: "boolean", description: "refuse (400 missing_vars) a send whose recipients lack a {{variable}} the content uses, instead of filling it with an empty string" },
    },
  };
}
