import { loadConfig } from "../protocol/index.ts";
import { startTelemetry } from "../protocol/telemetry/index.ts";

/** Commands that run a server and so export metrics and traces. */
const SERVING = new Set(["up", "gateway", "node"]);

/**
 * Register metrics and tracing before a serving command's modules load: instruments that
 * gateway and actor modules create at import time bind to the provider registered then.
 * A configuration error is left for the command itself to report.
 */
export function startCommandTelemetry(command: string): void {
  if (!SERVING.has(command)) return;
  let otlpEndpoint: string | undefined;
  try {
    otlpEndpoint = loadConfig().otlpEndpoint;
  } catch {
    return;
  }
  startTelemetry({ service: `sluice-${command}`, config: { otlpEndpoint } });
}
