import { test } from "node:test";
import assert from "node:assert/strict";
import { context, trace } from "@opentelemetry/api";
import { headers } from "@nats-io/transport-node";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import {
  addSpanExporter,
  extractTrace,
  injectTrace,
  metricsText,
  observeNodeStats,
  observeQueueDepth,
  sluiceMetrics,
  startTelemetry,
  traceLogFields,
  traceLogMixin,
  tracer,
} from "../../protocol/telemetry/index.ts";
import type { NodeStats } from "../../protocol/index.ts";

// Instruments taken before the provider exists must still count afterwards.
const early = sluiceMetrics();
startTelemetry({ service: "sluice-test", config: { otlpEndpoint: undefined } });
const spans = new InMemorySpanExporter();
addSpanExporter(spans);

test("instruments recorded after start appear in /metrics text with the sluice_ prefix", async () => {
  sluiceMetrics().webhookDeliveries.add(3, { outcome: "ok", tenant: "acme" });
  sluiceMetrics().webhookDeliveries.add(1, { outcome: "failed", tenant: "acme" });
  const text = await metricsText();
  assert.match(text, /sluice_webhook_deliveries_total\{[^}]*outcome="ok"[^}]*tenant="acme"[^}]*\} 3/);
  assert.match(text, /sluice_webhook_deliveries_total\{[^}]*outcome="failed"[^}]*\} 1/);
  assert.notEqual(early, sluiceMetrics(), "instruments are remade for the real provider");
});

test("every Sluice metric name starts with sluice_", async () => {
  const m = sluiceMetrics();
  m.webhookLag.record(1.5);
  m.smtpDuration.record(0.2, { destination: "x.test", outcome: "delivered" });
  const text = await metricsText();
  const names = [...text.matchAll(/^# TYPE (\S+)/gm)].map((x) => x[1] ?? "").filter((n) => n !== "target_info");
  assert.ok(names.length >= 3, `expected some metrics, got ${names.join(",")}`);
  for (const name of names) assert.match(name, /^sluice_/);
});

test("queue depth and node snapshot become gauges", async () => {
  observeQueueDepth(() => ({ critical: 2, transactional: 5, bulk: 70 }));
  const snap: NodeStats = {
    v: 1,
    nodeId: "n1",
    at: Date.now(),
    startedAt: Date.now(),
    partitions: [0, 1, 2],
    rssBytes: 1,
    inFlight: { critical: 0, transactional: 1, bulk: 4 },
    destinations: [
      {
        key: "gmail.com",
        state: "throttled",
        ratePerSecond: 5,
        configuredRatePerSecond: 10,
        connections: 2,
        maxConnections: 4,
        queued: { critical: 0, transactional: 0, bulk: 9 },
        delivered: 10,
        deferred: 1,
        bounced: 0,
        throttleEvents: 1,
      },
    ],
  };
  observeNodeStats(() => snap);
  const text = await metricsText();
  assert.match(text, /sluice_queue_depth\{[^}]*tier="bulk"[^}]*\} 70/);
  assert.match(text, /sluice_destination_connections\{[^}]*destination="gmail.com"[^}]*\} 2/);
  assert.match(text, /sluice_destination_state\{[^}]*state="throttled"[^}]*\} 1/);
  assert.match(text, /sluice_node_partitions\{[^}]*\} 3/);
});

test("traceparent round-trips through NATS headers", () => {
  const h = headers();
  let traceId = "";
  tracer().startActiveSpan("publish", (span) => {
    traceId = span.spanContext().traceId;
    injectTrace(h);
    span.end();
  });
  assert.match(h.get("traceparent"), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  const remote = trace.getSpanContext(extractTrace(h));
  assert.equal(remote?.traceId, traceId);
  assert.equal(trace.getSpanContext(extractTrace(undefined)), undefined);
});

test("log fields from a message's headers name its trace, and nothing without one", () => {
  const h = headers();
  h.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  assert.deepEqual(traceLogFields(h), { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" });
  assert.deepEqual(traceLogFields(undefined), {});
  assert.deepEqual(traceLogFields(headers()), {});
});

test("log mixin carries the active span's ids, and nothing outside a span", () => {
  assert.deepEqual(traceLogMixin(), {});
  const span = tracer().startSpan("work");
  context.with(trace.setSpan(context.active(), span), () => {
    const ids = traceLogMixin();
    assert.equal(ids.trace_id, span.spanContext().traceId);
    assert.equal(ids.span_id, span.spanContext().spanId);
  });
  span.end();
  assert.ok(spans.getFinishedSpans().some((s) => s.name === "work"));
});
