import type { FastifyError, FastifyInstance } from "fastify";
import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, RequestError, TimeoutError } from "@nats-io/transport-node";
import { JetStreamError } from "@nats-io/jetstream";
import { isSluiceError, type SluiceError } from "../protocol/index.ts";
import { DOMAIN_ERROR_STATUS } from "../protocol/io/index.ts";

/** An answer other than 2xx with its stable code; rendered as {"error": {code, message, field?}}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
    /** Figures the caller can act on, beside code and message (e.g. a quota's use). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

const RETRY_AFTER_S: Record<string, string> = { stream_full: "30", nats_unavailable: "2" };

/** Validation errors that are not a 400. */
const VALIDATION_STATUS: Record<string, number> = { message_too_large: 413, ...DOMAIN_ERROR_STATUS };

/** How a SluiceError is answered: the caller's fault is 4xx, a temporary failure 503 with Retry-After. */
function fromSluiceError(e: SluiceError): HttpError {
  if (e.kind === "validation") return new HttpError(VALIDATION_STATUS[e.code] ?? 400, e.code, e.message, e.field);
  if (e.kind === "temporary") return new HttpError(503, e.code, e.message, undefined, { "retry-after": RETRY_AFTER_S[e.code] ?? "5" });
  return new HttpError(500, e.code, "internal error; see the gateway log");
}

/** Fastify's own errors (body parsing, limits, content type) in our shape. */
function fromFastifyError(e: FastifyError): HttpError | undefined {
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new HttpError(413, "payload_too_large", "request body is larger than this endpoint accepts (SLUICE_MAX_MESSAGE_SIZE / SLUICE_MAX_BATCH_SIZE)");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new HttpError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new HttpError(400, "missing_body", "the request body is empty; expected a JSON object");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new HttpError(400, "invalid_json", `the request body is not valid JSON: ${e.message}`);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new HttpError(400, "invalid_content_length", e.message);
  }
  if (e instanceof SyntaxError) return new HttpError(400, "invalid_json", `the request body is not valid JSON: ${e.message}`);
  if (typeof e.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpError(e.statusCode, (e.code ?? "bad_request").toLowerCase(), e.message);
  }
  return undefined;
}

/**
 * The NATS client's own failures (a request timed out during a leader election, the
 * connection closed or is reconnecting, nobody answered): the store is away for a moment,
 * whichever route met it. A 500 would tell the client not to retry; the mail was not
 * accepted, so it is a 503 to retry under the same Idempotency-Key.
 */
const NATS_UNAVAILABLE = [TimeoutError, ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, RequestError, JetStreamError];

export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (isSluiceError(e)) return fromSluiceError(e);
  if (NATS_UNAVAILABLE.some((kind) => e instanceof kind)) {
    return new HttpError(503, "nats_unavailable", `the message store did not answer (${(e as Error).message}); retry under the same Idempotency-Key`, undefined, { "retry-after": RETRY_AFTER_S.nats_unavailable ?? "2" });
  }
  if (e instanceof Error) {
    const mapped = fromFastifyError(e as FastifyError);
    if (mapped) return mapped;
  }
  return new HttpError(500, "internal", "internal error; see the gateway log");
}

/** One error handler for every route, including fastify's own 400/404/413/415. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const http = toHttpError(error);
    if (http.status >= 500) request.log.error({ err: error, url: request.url, code: http.code }, "request failed");
    const body = { code: http.code, message: http.message, ...(http.field === undefined ? {} : { field: http.field }), ...http.details };
    return reply.code(http.status).headers(http.headers).send({ error: body });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` } }),
  );
}
