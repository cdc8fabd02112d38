import { createServer } from "node:http";
import type { Logger } from "pino";
import { metricsText, PROMETHEUS_CONTENT_TYPE } from "../protocol/telemetry/index.ts";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The node's Prometheus endpoint (SLUICE_METRICS_PORT): a bare node:http server, since a
 * node has no HTTP framework and needs only GET /metrics. Port 0 picks a free one.
 */
export async function startMetricsServer(port: number, logger: Logger, host = "0.0.0.0"): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" || path !== "/metrics") {
      res.writeHead(path === "/metrics" ? 405 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "not_found", message: "this port serves GET /metrics only" } }));
      return;
    }
    metricsText().then(
      (text) => {
        res.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE });
        res.end(text);
      },
      (e: unknown) => {
        logger.error({ err: e }, "metrics collection failed");
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("metrics collection failed\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  logger.info({ port: bound }, "node metrics listening");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
