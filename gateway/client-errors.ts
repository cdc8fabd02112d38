import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * Errors raised below fastify's routing, in the API's one error shape
 * `{"error": {code, message}}`: malformed HTTP that node's parser refuses before a
 * request exists (clientErrorHandler) and URLs fastify cannot decode (frameworkErrors).
 * Everything later goes through setErrorHandler (gateway/http-error.ts).
 */

/** node's llhttp error codes → our answer. Anything else is a plain malformed request. */
function classify(code: string | undefined): { status: number; code: string; message: string } {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, code: "headers_too_large", message: "the request headers are larger than the server accepts" };
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "ERR_HTTP_HEADERS_TIMEOUT":
      return { status: 408, code: "request_timeout", message: "the request did not arrive in time" };
    case "HPE_INVALID_EOF_STATE":
      return { status: 400, code: "incomplete_body", message: "the connection ended before the body (Content-Length or chunks) was complete" };
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return { status: 400, code: "invalid_content_length", message: "Content-Length is not a single non-negative number, or conflicts with Transfer-Encoding" };
    case "HPE_INVALID_CHUNK_SIZE":
    case "HPE_INVALID_TRANSFER_ENCODING":
    case "HPE_STRICT":
      return { status: 400, code: "invalid_chunk", message: "the chunked body is malformed" };
    case "HPE_INVALID_HEADER_TOKEN":
    case "HPE_LF_EXPECTED":
    case "HPE_CR_EXPECTED":
    case "HPE_UNEXPECTED_SPACE":
      return { status: 400, code: "invalid_header", message: "a header line is malformed (folded, or with characters HTTP does not allow)" };
    default:
      return { status: 400, code: "bad_request", message: "the request is not well-formed HTTP/1.1" };
  }
}

export function clientErrorHandler(this: { log: FastifyBaseLogger }, err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || !socket.writable) return;
  // A response already under way on this socket cannot be followed by another one.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, code, message } = classify(err.code);
  this.log.debug({ err, code }, "malformed HTTP request");
  const body = JSON.stringify({ error: { code, message: `${message} (${err.code ?? "parse error"})` } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Bad Request"}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** FST_ERR_BAD_URL (an undecodable path) and FST_ERR_ASYNC_CONSTRAINT, in our shape. */
export function frameworkErrors(error: Error & { code?: string }, _request: FastifyRequest, reply: FastifyReply): void {
  const bad = error.code === "FST_ERR_BAD_URL";
  void reply
    .code(400)
    .send({ error: { code: bad ? "bad_url" : "bad_request", message: bad ? "the URL path is not valid percent-encoding" : error.message } });
}

/**
 * node answers a request without Host with a bare 400 of its own; we let it through
 * (`requireHostHeader: false`) and refuse it here, in our shape.
 */
export function requireHost(app: FastifyInstance): void {
  app.addHook("onRequest", async (request, reply) => {
    if (request.raw.httpVersion === "1.1" && request.headers.host === undefined) {
      return reply.code(400).send({ error: { code: "missing_host", message: "an HTTP/1.1 request needs a Host header" } });
    }
    return undefined;
  });
}
