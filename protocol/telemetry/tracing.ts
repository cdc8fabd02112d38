import { context, propagation, trace, type Context, type Tracer } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/**
 * One tracer provider per process, registered globally with an AsyncLocalStorage context
 * manager and the W3C propagator. Spans are always created (so logs carry trace ids);
 * they leave the process only through OTLP/HTTP when an endpoint is configured, or through
 * an exporter a test adds.
 */

/** Forwards to a list that can grow after the provider is built (the SDK's list is fixed). */
class ProcessorList implements SpanProcessor {
  readonly processors: SpanProcessor[] = [];
  onStart(span: Span, parent: Context): void {
    for (const p of this.processors) p.onStart(span, parent);
  }
  onEnd(span: ReadableSpan): void {
    for (const p of this.processors) p.onEnd(span);
  }
  async forceFlush(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.forceFlush()));
  }
  async shutdown(): Promise<void> {
    await Promise.all(this.processors.map((p) => p.shutdown()));
  }
}

interface TracingState {
  provider: BasicTracerProvider;
  processors: ProcessorList;
  service: string;
  otlpEndpoint: string | undefined;
}

let state: TracingState | undefined;

export interface TracingOptions {
  service: string;
  /** OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); undefined = no export. */
  otlpEndpoint?: string | undefined;
}

/**
 * Register the process's tracer provider. Idempotent: gateway and node started in one
 * process (`sluice up`, tests) share the first one; a later OTLP endpoint is added to it.
 */
export function startTracing(options: TracingOptions): void {
  if (!state) {
    const processors = new ProcessorList();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": options.service }),
      spanProcessors: [processors],
    });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(provider);
    state = { provider, processors, service: options.service, otlpEndpoint: undefined };
  }
  if (options.otlpEndpoint && !state.otlpEndpoint) {
    state.otlpEndpoint = options.otlpEndpoint;
    state.processors.processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpEndpoint })));
  }
}

/** Send every span ended from now on to `exporter` as well (tests: an InMemorySpanExporter). */
export function addSpanExporter(exporter: SpanExporter): void {
  if (!state) startTracing({ service: "sluice" });
  state?.processors.processors.push(new SimpleSpanProcessor(exporter));
}

/** Flush exporters (before exit, or before a test reads an exporter). */
export async function flushTracing(): Promise<void> {
  await state?.provider.forceFlush();
}

/** True when spans ended in this process go anywhere (OTLP or an exporter a test added). */
export const tracingExports = (): boolean => (state?.processors.processors.length ?? 0) > 0;

/** The tracer for Sluice's own spans; a no-op tracer until tracing is started. */
export const tracer = (): Tracer => trace.getTracer("sluice");

/**
 * pino `mixin`: adds trace_id and span_id of the active span to every log line, so a log
 * line leads to its trace and back.
 */
export function traceLogMixin(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const sc = span.spanContext();
  if (!trace.isSpanContextValid(sc)) return {};
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
