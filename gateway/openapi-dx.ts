/**
 * OpenAPI paths of routes documented nowhere else (stats, metrics), and the finishing pass
 * every operation goes through (operationId, section, the errors every route of its kind
 * can answer). Used by gateway/openapi.ts and gateway/api-spec.ts.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (description: string, s: unknown = { type: "object" }) => ({ description, content: { "application/json": { schema: s } } });

/**
 * Routes whose handlers predate route schemas and are not hand-written elsewhere. Routes
 * that declare `schema` (templates, batch recipients, activity search) are generated from
 * it by gateway/api-spec.ts instead.
 */
export function dxOpenApiPaths(): Record<string, unknown> {
  return {
    "/v1/stats": {
      get: {
        operationId: "getStats",
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
        summary: "Prometheus exposition of this process's sluice_ metrics (operator key)",
        responses: { "200": { description: "metrics", content: { "text/plain": { schema: { type: "string" } } } } },
      },
    },
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
export const errorResponse = (status: string) => ({ description: ERROR_DESCRIPTIONS[status] ?? "error", content: { "application/json": { schema: ref("Error") } } });
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
