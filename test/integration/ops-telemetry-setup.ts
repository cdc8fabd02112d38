// Imported FIRST by ops tests that start a gateway or node in-process: their modules
// create instruments at import time, which bind to the meter provider registered then.
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { addSpanExporter, startTelemetry } from "../../protocol/telemetry/index.ts";

startTelemetry({ service: "sluice-test", config: { otlpEndpoint: undefined } });
export const spans = new InMemorySpanExporter();
addSpanExporter(spans);
