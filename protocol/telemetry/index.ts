// Telemetry for gateway, node and CLI: OpenTelemetry metrics (Prometheus pull), traces
// (OTLP/HTTP when configured) and W3C trace context in NATS headers.
import type { Config } from "../config.ts";
import { startMetrics } from "./metrics.ts";
import { startTracing } from "./tracing.ts";

export { metricsText, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
export { addSpanExporter, flushTracing, startTracing, traceLogMixin, tracer, tracingExports } from "./tracing.ts";
export { extractTrace, forwardTrace, injectTrace, traceHeaders, traceLogFields } from "./propagation.ts";
export { sluiceMetrics, type SluiceInstruments } from "./instruments.ts";
export { observeNodeStats, observeQueueDepth } from "./stats-gauges.ts";

/**
 * Start metrics and tracing for this process. Call it before starting the gateway or a
 * node; calling it again (gateway and node in one process) is harmless.
 */
export function startTelemetry(options: { service: string; config: Pick<Config, "otlpEndpoint"> }): void {
  startMetrics(options.service);
  startTracing({ service: options.service, otlpEndpoint: options.config.otlpEndpoint });
}
export { watchCluster, type ClusterView, type ClusterViewOptions } from "./cluster-view.ts";
export { ClusterAggregator, queueDepthBySubject, type ClusterStats, type ClusterSample, type DestinationView, type NodeView, type TierCounts } from "./cluster-aggregate.ts";
