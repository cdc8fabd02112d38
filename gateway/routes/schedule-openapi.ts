import { z } from "zod";
import { RescheduleRequest } from "../../protocol/index.ts";

/** OpenAPI of the scheduling routes (routes/schedule.ts), merged into the document per path and method. */
const schema = (s: z.ZodType): unknown => z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "openapi-3.0" });
const error = { content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
const idParam = (what: string) => ({ name: "id", in: "path", required: true, schema: { type: "string" }, description: what });

const cancelAnswer = {
  type: "object",
  properties: {
    id: { type: "string" },
    state: { type: "string", enum: ["scheduled", "released", "cancelled", "expired"], description: "the request's schedule after this call" },
    recipients: { type: "integer" },
    cancelled: { type: "integer", description: "recipients this call cancelled (status cancelled, never delivered)" },
    alreadySent: { type: "integer", description: "recipients already handed to delivery: not cancellable" },
  },
};

const cancel = (what: string) => ({
  post: {
    summary: `Cancel ${what} not yet released`,
    parameters: [idParam(what === "a batch" ? "batch id" : "request id (all its recipients) or recipient id (one)")],
    responses: {
      "200": { description: "cancelled (some may have been released already: alreadySent)", content: { "application/json": { schema: cancelAnswer } } },
      "400": { description: "not an id", ...error },
      "404": { description: "no such request for this tenant", ...error },
      "409": {
        description: "nothing to cancel: already handed to delivery (already_sent), or already cancelled / expired; the body also carries the counts",
        content: { "application/json": { schema: { allOf: [{ $ref: "#/components/schemas/Error" }, cancelAnswer] } } },
      },
      "503": { description: "NATS unreachable; see Retry-After", ...error },
    },
  },
});

const reschedule = (what: string) => ({
  patch: {
    summary: `Reschedule ${what}: recipients not yet released move to the new sendAt (a paced plan moves as a whole)`,
    parameters: [idParam(what === "a batch" ? "batch id" : "request id")],
    requestBody: { required: true, content: { "application/json": { schema: schema(RescheduleRequest) } } },
    responses: {
      "200": {
        description: "rescheduled",
        content: { "application/json": { schema: { type: "object", properties: { id: { type: "string" }, state: { type: "string" }, sendAt: { type: "string", format: "date-time" }, recipients: { type: "integer" } } } } },
      },
      "400": { description: "bad sendAt (beyond SLUICE_SCHEDULE_HORIZON, or not before the expiry)", ...error },
      "404": { description: "no scheduled request of this id for this tenant", ...error },
      "409": { description: "not_scheduled: already released, cancelled or expired", ...error },
      "503": { description: "NATS unreachable; see Retry-After", ...error },
    },
  },
});

export function scheduleOpenApiPaths(): Record<string, Record<string, unknown>> {
  return {
    "/v1/messages/{id}/cancel": cancel("a request or one recipient"),
    "/v1/batches/{id}/cancel": cancel("a batch"),
    "/v1/messages/{id}": reschedule("a request"),
    "/v1/batches/{id}": reschedule("a batch"),
    "/v1/schedules/volume": {
      get: {
        summary: "What this tenant's scheduled mail will release in the next 24 hours, hour by hour",
        responses: {
          "200": {
            description: "recipients per hour ahead",
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  properties: {
                    at: { type: "integer", description: "when counted (unix ms)" },
                    hours: { type: "array", items: { type: "integer" }, description: "recipients released in hour h from `at` (24 entries)" },
                    later: { type: "integer" },
                    total: { type: "integer", description: "recipients waiting" },
                    requests: { type: "integer", description: "scheduled requests and batches" },
                  },
                },
              },
            },
          },
          "503": { description: "NATS unreachable; see Retry-After", ...error },
        },
      },
    },
  };
}
