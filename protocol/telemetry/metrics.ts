import { metrics } from "@opentelemetry/api";
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider } from "@opentelemetry/sdk-metrics";

/**
 * The process's meter provider, read by Prometheus in pull mode: the exporter starts no
 * server of its own; the gateway's /metrics route and the node's metrics server ask
 * `metricsText()` for the exposition.
 */

interface MetricsState {
  provider: MeterProvider;
  exporter: PrometheusExporter;
  serializer: PrometheusSerializer;
}

let state: MetricsState | undefined;

/** Register the global meter provider; idempotent (one per process). */
export function startMetrics(service: string): void {
  if (state) return;
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    readers: [exporter],
  });
  metrics.setGlobalMeterProvider(provider);
  state = { provider, exporter, serializer: new PrometheusSerializer() };
}

/** Prometheus text exposition (format 0.0.4) of every metric of this process. */
export async function metricsText(): Promise<string> {
  if (!state) return "# telemetry not started\n";
  const { resourceMetrics, errors } = await state.exporter.collect();
  const text = state.serializer.serialize(resourceMetrics);
  // A failed observable callback loses its own series only; say so in the body.
  return errors.length === 0 ? text : `${text}# ${errors.length} collection error(s): ${errors.map(String).join("; ")}\n`;
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
