import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { loadConfig } from "../../protocol/index.ts";
import { sluiceMetrics, startTelemetry } from "../../protocol/telemetry/index.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { startMetricsServer, type MetricsServer } from "../../actors/metrics-server.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";

startTelemetry({ service: "sluice-test", config: { otlpEndpoint: undefined } });
const logger = pino({ level: "silent" });
let server: NatsServer;
let nc: NatsConnection;
let gateway: Gateway;
let metrics: MetricsServer;

before(async () => {
  server = await startNatsServer("ops-metrics");
  nc = await connect({ servers: server.url });
  const config = loadConfig({ NATS_URL: server.url, SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0" });
  gateway = await startGateway(config, logger, nc);
  metrics = await startMetricsServer(0, logger, "127.0.0.1");
});
after(async () => {
  await metrics?.close();
  await gateway?.close();
  await nc?.close();
  await server?.dispose();
});

async function scrape(url: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

const delivered = (text: string): number => {
  const m = /^sluice_webhook_deliveries_total\{[^}]*tenant="metrics"[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
};

test("gateway /metrics and the node metrics port serve the same moving counters in Prometheus format", async () => {
  const before = await scrape(`http://127.0.0.1:${gateway.port}/metrics`);
  assert.equal(before.status, 200);
  assert.match(before.type ?? "", /^text\/plain; version=0\.0\.4/);
  sluiceMetrics().webhookDeliveries.add(5, { outcome: "ok", tenant: "metrics" });
  const gw = await scrape(`http://127.0.0.1:${gateway.port}/metrics`);
  const node = await scrape(`http://127.0.0.1:${metrics.port}/metrics`);
  assert.equal(delivered(gw.text) - delivered(before.text), 5);
  assert.equal(delivered(node.text), delivered(gw.text));
  assert.match(gw.text, /^# TYPE sluice_webhook_deliveries_total counter/m);
});

test("the node metrics port answers 404 elsewhere", async () => {
  const r = await scrape(`http://127.0.0.1:${metrics.port}/other`);
  assert.equal(r.status, 404);
  assert.match(r.text, /GET \/metrics only/);
});
