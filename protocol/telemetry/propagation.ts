import { context, propagation, ROOT_CONTEXT, trace, type Context, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { headers, Match, type MsgHdrs } from "@nats-io/transport-node";

/**
 * W3C trace context (`traceparent`, `tracestate`) carried in NATS message headers, so that
 * a message's trace continues from the gateway's request through JetStream to the node.
 * Without a registered propagator (telemetry not started) both are no-ops.
 */

const setter: TextMapSetter<MsgHdrs> = {
  set: (headers, key, value) => headers.set(key, value),
};

const getter: TextMapGetter<MsgHdrs> = {
  keys: (headers) => headers.keys(),
  // Header names may have been canonicalised by another client ("Traceparent").
  get: (headers, key) => (headers.has(key, Match.IgnoreCase) ? headers.get(key, Match.IgnoreCase) : undefined),
};

/** Write the active (or given) context's trace into `headers`. */
export function injectTrace(headers: MsgHdrs, ctx: Context = context.active()): MsgHdrs {
  propagation.inject(ctx, headers, setter);
  return headers;
}

/** The remote parent carried by `headers`, or the root context when there is none. */
export function extractTrace(headers?: MsgHdrs): Context {
  if (!headers) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, headers, getter);
}

/** Headers carrying the active (or given) context's trace, or undefined outside a span (no header cost). */
export function traceHeaders(ctx: Context = context.active()): MsgHdrs | undefined {
  if (!trace.getSpanContext(ctx)) return undefined;
  const h = headers();
  injectTrace(h, ctx);
  return h.keys().length > 0 ? h : undefined;
}

/** A message's trace headers copied for the messages it begets (batch job → recipients). */
export function forwardTrace(from: MsgHdrs | undefined): MsgHdrs | undefined {
  return from ? traceHeaders(extractTrace(from)) : undefined;
}

/**
 * The trace ids carried by `headers` as log fields (`trace_id`, `span_id`, as the pino mixin
 * writes them), for a log line about a message outside its span. Running the code in the
 * message's context instead (context.with) would turn on Node's async hooks for every
 * promise in the process, which cost ~4% of the node's CPU per delivered message.
 */
export function traceLogFields(headers: MsgHdrs | undefined): { trace_id?: string; span_id?: string } {
  if (!headers) return {};
  const sc = trace.getSpanContext(extractTrace(headers));
  return sc && trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}
