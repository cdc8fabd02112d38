import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { FastifyInstance, RouteHandlerMethod } from "fastify";
import { tracer, tracingExports } from "../protocol/telemetry/index.ts";

/**
 * A SERVER span around every /v1 handler, continuing the client's `traceparent` when it
 * sent one (and only then when this process exports no spans). It is the active span while the handler runs, so what the handler publishes
 * to MAIL_SEND carries it (protocol/io/sdk.ts injects the headers). Must be installed before
 * the routes are registered (an onRoute hook sees only later routes).
 */
export function traceRoutes(app: FastifyInstance): void {
  app.addHook("onRoute", (route) => {
    if (!route.url.startsWith("/v1/")) return;
    const handler = route.handler as RouteHandlerMethod;
    const name = `${String(route.method)} ${route.url}`;
    const traced: RouteHandlerMethod = function (this: FastifyInstance, request, reply) {
      // A span nobody can see costs ~8% of a small request (span, context switch, trace
      // headers on every NATS message): skip it when this process exports no spans and
      // the client sent no trace to continue. The node then starts the message's trace.
      if (request.headers.traceparent === undefined && !tracingExports()) return handler.call(this, request, reply);
      const parent = propagation.extract(ROOT_CONTEXT, request.headers);
      return tracer().startActiveSpan(name, { kind: SpanKind.SERVER, attributes: { "http.request.method": request.method, "http.route": route.url } }, parent, async (span) => {
        try {
          return await handler.call(this, request, reply);
        } catch (e) {
          span.recordException(e instanceof Error ? e : String(e));
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw e;
        } finally {
          span.setAttribute("http.response.status_code", reply.statusCode);
          if (request.auth) span.setAttribute("sluice.tenant", request.auth.tenant);
          span.end();
        }
      });
    };
    route.handler = traced;
  });
}
