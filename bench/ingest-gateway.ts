// The gateway alone in its own process for bench/ingest.bench.ts, so that its memory is
// measured apart from the load generator. Config from the environment; prints its port.
// Telemetry is started first, as `sluice gateway` does (cli/telemetry.ts), so the figures
// include a span per /v1 request and the metrics, with no exporter configured.
// BENCH_GATEWAY_PROCESSES=N (default 1) runs N gateways sharing the port through
// node:cluster (the gateway is stateless), to see what a second process buys on 2 cores.
import cluster from "node:cluster";
import { pino } from "pino";
import { loadConfig } from "../protocol/index.ts";
import { startTelemetry } from "../protocol/telemetry/index.ts";

const processes = Number(process.env.BENCH_GATEWAY_PROCESSES ?? 1);
setTimeout(() => process.exit(3), 30 * 60_000).unref(); // bounded, whatever happens to the parent

if (processes > 1 && cluster.isPrimary) {
  const workers = Array.from({ length: processes }, () => cluster.fork());
  const ports = await Promise.all(workers.map((w) => new Promise<number>((resolve) => w.on("message", (m: { port: number }) => resolve(m.port)))));
  process.stdout.write(`port ${ports[0]}\n`);
  process.on("SIGTERM", () => {
    for (const w of workers) w.process.kill("SIGTERM");
    setTimeout(() => process.exit(0), 300);
  });
} else {
  const config = loadConfig();
  startTelemetry({ service: "sluice-gateway", config });
  const { startGateway } = await import("../gateway/index.ts"); // after telemetry: instruments bind at import
  const gateway = await startGateway(config, pino({ level: "warn" }));
  if (cluster.isWorker) process.send?.({ port: gateway.port });
  else process.stdout.write(`port ${gateway.port}\n`);
  process.on("SIGTERM", () => void gateway.close().then(() => process.exit(0)));
}
