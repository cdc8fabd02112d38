// The gateway alone in its own process for bench/ingest.bench.ts, so that its memory is
// measured apart from the load generator. Config from the environment; prints its port.
// Telemetry is started first, as `sluice gateway` does (cli/telemetry.ts), so the figures
// include a span per /v1 request and the metrics, with no exporter configured.
import { pino } from "pino";
import { loadConfig } from "../protocol/index.ts";
import { startTelemetry } from "../protocol/telemetry/index.ts";

const config = loadConfig();
startTelemetry({ service: "sluice-gateway", config });
const { startGateway } = await import("../gateway/index.ts"); // after telemetry: instruments bind at import
const gateway = await startGateway(config, pino({ level: "warn" }));
process.stdout.write(`port ${gateway.port}\n`);
process.on("SIGTERM", () => void gateway.close().then(() => process.exit(0)));
setTimeout(() => process.exit(3), 30 * 60_000).unref(); // bounded, whatever happens to the parent
