import { z } from "zod";
import { BatchRequest, MESSAGE_STATUSES, SendRequest } from "../protocol/index.ts";
import { failureOpenApiPaths } from "./routes/failure-openapi.ts";
import { dxOpenApiPaths, finishOperations, NAMED_OPERATIONS, withTemplateFields } from "./openapi-dx.ts";
import { domainOpenApiPaths } from "./routes/domains-openapi.ts";
import { scheduleOpenApiPaths } from "./routes/schedule-openapi.ts";

const schema = (s: z.ZodType): unknown => z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "openapi-3.0" });

const ErrorBody = {
  type: "object",
  description:
    "Every error, from any layer (routing, body parsing, malformed HTTP), has this shape. Codes for bad input: " +
    "400 invalid_request, header_injection, control_character, reserved_header, invalid_json, invalid_utf8, invalid_unicode, " +
    "forbidden_key (__proto__ or constructor), too_deep, missing_body, invalid_content_length, invalid_chunk, incomplete_body, " +
    "invalid_header, missing_host, bad_url, bad_request, missing_vars (strictVars: recipients lacking template variables); 404 not_found, template_not_found; 408 request_timeout; 413 payload_too_large (body over the limit), " +
    "message_too_large (one NATS message would exceed the server's max_payload: never retry it); 415 unsupported_media_type; " +
    "431 headers_too_large.",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: { code: { type: "string" }, message: { type: "string" }, field: { type: "string" } },
    },
  },
};

const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: DESCRIPTIONS[c] ?? "error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]));

const DESCRIPTIONS: Record<number, string> = {
  400: "invalid request: `error.field` names the field, `error.message` says why, `error.code` is stable (see the Error schema)",
  401: "missing, unknown or revoked API key",
  403: "the key lacks the needed scope; domain_not_verified: the `from` domain is not verified for the key's tenant (SLUICE_REQUIRE_VERIFIED_DOMAINS, on in production)",
  404: "no such resource for this tenant (on a send: templateId names no template of yours)",
  409: "Idempotency-Key reused with another body, or its first request is still running",
  413: "payload_too_large: body over SLUICE_MAX_MESSAGE_SIZE / SLUICE_MAX_BATCH_SIZE; message_too_large: a recipient's message (metadata, or a batch recipient's vars: `error.field`) would exceed NATS max_payload",
  415: "body is not application/json",
  429: "key over its rate; see Retry-After",
  503: "NATS unreachable or stream full: nothing was accepted; see Retry-After",
};

const idempotencyHeader = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  schema: { type: "string", maxLength: 255 },
  description: "Same key + same body within 24 h returns the first answer and sends nothing again; another body → 409.",
};

/**
 * The hand-written part of the OpenAPI document (request bodies from the same zod schemas
 * that validate them), for routes that declare no `schema` of their own; gateway/api-spec.ts
 * merges in the operations generated from route schemas. Served at /docs/openapi.json.
 */
export function openApiDocument(): unknown {
  const doc = baseDocument();
  // Scheduling adds methods to paths that exist (PATCH beside GET): merged per path.
  for (const [path, methods] of Object.entries(scheduleOpenApiPaths())) doc.paths[path] = { ...doc.paths[path], ...methods };
  const paths = doc.paths as unknown as Record<string, Record<string, Record<string, unknown>>>;
  for (const [path, ops] of Object.entries(paths)) for (const [method, op] of Object.entries(ops)) op.operationId ??= NAMED_OPERATIONS[`${method} ${path}`];
  finishOperations(paths);
  return doc;
}

function baseDocument(): { paths: Record<string, Record<string, unknown>> } & Record<string, unknown> {
  return {
    openapi: "3.0.3",
    info: {
      title: "Sluice HTTP API",
      version: "1",
      description: "Outbound email delivery: send, follow each recipient, handle failures. Every error answers `{\"error\": {\"code\", \"message\", \"field\"}}`.",
      license: { name: "Apache-2.0", url: "https://www.apache.org/licenses/LICENSE-2.0" },
    },
    servers: [{ url: "/", description: "this gateway" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "API key from `sluice keys create` (make run prints one): `Authorization: Bearer <key>`" } },
      schemas: { SendRequest: withTemplateFields(schema(SendRequest)), BatchRequest: withTemplateFields(schema(BatchRequest)), Error: ErrorBody },
    },
    security: [{ bearer: [] }],
    paths: {
      ...sendPaths(),
      ...failureOpenApiPaths(),
      ...dxOpenApiPaths(),
      ...domainOpenApiPaths(),
      "/healthz": { get: { summary: "process is up", security: [], responses: { "200": { description: "up" } } } },
      "/readyz": { get: { summary: "NATS connected and topology present", security: [], responses: { "200": { description: "ready" }, "503": { description: "not ready" } } } },
      // The reputation loop: one-click unsubscribe (RFC 8058), authorised by its signed token.
      "/v1/unsubscribe/{token}": {
        get: { parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" }, description: "the signed token of a List-Unsubscribe link" }], operationId: "showUnsubscribePage", summary: "confirmation page with a button that POSTs (GET never unsubscribes: link scanners follow links)", security: [], responses: { "200": { description: "HTML page" }, "404": { description: "not a valid token" } } },
        post: { parameters: [{ name: "token", in: "path", required: true, schema: { type: "string" }, description: "the signed token of a List-Unsubscribe link" }], operationId: "unsubscribeOneClick", summary: "one-click unsubscribe: suppress the address for its tenant (reason unsubscribe) and publish an unsubscribed event", security: [], responses: { "200": { description: "unsubscribed (HTML)" }, "404": { description: "not a valid token" }, "503": { description: "NATS unavailable" } } },
      },
      // Tenants (issue 16): a tenant's own settings, quota use and reputation status.
      "/v1/tenant": {
        get: {
          summary: "The caller's tenant: settings (daily quota, weight, reputation thresholds), today's quota use, and the reputation breaker's status (healthy, warning, paused) with its reason",
          responses: { "200": { description: "tenant, status, reputation, settings, today {day, used, quota?, remaining?, resetsAt}" }, ...errors(401, 403, 503) },
        },
      },
      "/v1/tenants": {
        get: {
          summary:
            "Tenants at a glance (the dashboard's tenant panel): an operator key gets every tenant (at most 200), any other key only its own. Per tenant: breaker status and reason, last 24 h sent / bounce rate / complaint rate, settings, recipients counted today, bulk held by the breaker, recipients held over the daily quota (as the scheduler last counted, every 15 s), recipients in flight on the nodes, delivered events kept (a rate between two looks)",
          responses: { "200": { description: "{at, scope: cluster|tenant, tenants: [{tenant, status, reason?, sent, bounceRate, complaintRate, settings, usedToday, held, heldForQuota, delivered, inFlight}]}" }, ...errors(401, 403, 503) },
        },
      },
    },
  };
}

/**
 * Accepted over the tenant's daily quota with onQuota "hold" (issue 16): the recipients are
 * `held` and released, counted against that day's quota, when it renews.
 */
const heldSchema = {
  type: "object",
  description: "present only when the recipients are held over the tenant's daily quota (onQuota hold); they are released when it renews, counted against that day's quota (what does not fit waits another day)",
  properties: {
    reason: { type: "string", enum: ["quota_exceeded"] },
    releasesAt: { type: "string", format: "date-time", description: "the next UTC midnight" },
    quota: { type: "object", properties: { quota: { type: "integer" }, used: { type: "integer" }, requested: { type: "integer" }, resetsAt: { type: "string" } } },
  },
};

/** Sending and following a batch: the routes clients start with. */
function sendPaths(): Record<string, Record<string, unknown>> {
  return {
    "/v1/messages": {
      post: {
        summary: "Send one message to up to 50 recipients (to + cc + bcc)",
        parameters: [idempotencyHeader],
        requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/SendRequest" } } } },
        responses: {
          "202": {
            description: "stored on JetStream; one id per recipient. Over the tenant's daily quota with onQuota \"hold\": each recipient `held` and a `held` object saying when they are released",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    id: { type: "string" },
                    recipients: {
                      type: "array",
                      items: { type: "object", properties: { to: { type: "string" }, id: { type: "string" }, status: { type: "string", enum: ["held"], description: "only when held over the daily quota" } } },
                    },
                    held: heldSchema,
                  },
                },
              },
            },
          },
          ...errors(400, 401, 403, 404, 409, 413, 415, 429, 503),
        },
      },
    },
    "/v1/batches": {
      post: {
        summary: "Send a template to up to 100,000 recipients ({{name}} placeholders filled from each recipient's vars)",
        parameters: [idempotencyHeader],
        requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/BatchRequest" } } } },
        responses: {
          "202": {
            description: "payload, recipient list and job stored; fan-out follows",
            content: { "application/json": { schema: { type: "object", properties: { batchId: { type: "string" }, accepted: { type: "integer" }, held: heldSchema } } } },
          },
          ...errors(400, 401, 403, 404, 409, 413, 415, 429, 503),
        },
      },
    },
    "/v1/batches/{id}": {
      get: {
        summary: "Progress of a batch: total, expanded, and its recipients per status (from the status index)",
        parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": {
            description: "progress",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    batchId: { type: "string" },
                    state: {
                      type: "string",
                      enum: ["queued", "expanding", "expanded", "completed", "failed"],
                      description: "completed: expanded and every recipient is in a terminal status; failed: some or all recipients could not be expanded (see reason); each of those got a failed event",
                    },
                    missingVars: { type: "integer", description: "recipients that lacked some {{variable}} of the content (filled with an empty string); strictVars: true refuses such a batch instead" },
                    total: { type: "integer" },
                    expanded: { type: "integer" },
                    failed: { type: "integer", description: "recipients that could not be expanded" },
                    reason: { type: "string", description: "why the batch, or some of its recipients, could not be expanded" },
                    counts: {
                      type: "object",
                      description: "recipients per status; those the index has not seen yet count as queued",
                      properties: Object.fromEntries(MESSAGE_STATUSES.map((st) => [st, { type: "integer" }])),
                    },
                    createdAt: { type: "integer" },
                    updatedAt: { type: "integer" },
                  },
                },
              },
            },
          },
          ...errors(401, 403, 404, 503),
        },
      },
    },
  };
}
