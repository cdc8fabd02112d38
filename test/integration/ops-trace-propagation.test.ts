import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { context, SpanKind, trace } from "@opentelemetry/api";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { addSpanExporter, extractTrace, flushTracing, injectTrace, startTelemetry, tracer } from "../../protocol/telemetry/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

startTelemetry({ service: "sluice-test", config: { otlpEndpoint: undefined } });
const spans = new InMemorySpanExporter();
addSpanExporter(spans);

let server: NatsServer;
let producer: NatsConnection;
let consumer: NatsConnection;
before(async () => {
  server = await startNatsServer("ops-trace");
  producer = await connect({ servers: server.url });
  consumer = await connect({ servers: server.url });
});
after(async () => {
  await producer?.close();
  await consumer?.close();
  await server?.dispose();
});

test("a span started by a publisher continues in the subscriber through NATS headers", async () => {
  // The subscriber runs in its own connection and callback: nothing but the headers links them.
  consumer.subscribe("ops.trace.test", {
    callback: (_err, msg) => {
      const parent = extractTrace(msg.headers);
      const span = tracer().startSpan("consume", { kind: SpanKind.CONSUMER }, parent);
      span.end();
    },
  });
  await consumer.flush();

  let publishTraceId = "";
  let publishSpanId = "";
  await tracer().startActiveSpan("publish", { kind: SpanKind.PRODUCER }, async (span) => {
    publishTraceId = span.spanContext().traceId;
    publishSpanId = span.spanContext().spanId;
    const h = headers();
    injectTrace(h);
    producer.publish("ops.trace.test", "hello", { headers: h });
    await producer.flush();
    span.end();
  });
  // Outside any span, a publish carries no trace.
  assert.equal(trace.getSpan(context.active()), undefined);

  const consumed = await waitFor("the consumer's span", async () => {
    await flushTracing();
    return spans.getFinishedSpans().find((s) => s.name === "consume");
  }, 10_000);
  assert.equal(consumed.spanContext().traceId, publishTraceId);
  assert.equal(consumed.parentSpanContext?.spanId, publishSpanId);
});
