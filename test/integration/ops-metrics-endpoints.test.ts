import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS, loadConfig } from "../../protocol/index.ts";
import { createApiKey, ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
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
let operatorKey = "";
let tenantKey = "";

before(async () => {
  server = await startNatsServer("ops-metrics");
  nc = await connect({ servers: server.url });
  const config = loadConfig({ NATS_URL: server.url, SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0" });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const keys = await new Kvm(nc).open(KV_BUCKETS.keys);
  operatorKey = (await createApiKey(keys, { tenant: "ops", scopes: ["read"], operator: true })).key;
  tenantKey = (await createApiKey(keys, { tenant: "acme", scopes: ["admin"] })).key;
  gateway = await startGateway(config, logger, nc);
  metrics = await startMetricsServer(0, logger, "127.0.0.1");
});
after(async () => {
  await metrics?.close();
  await gateway?.close();
  await nc?.close();
  await server?.dispose();
});

/** `key` null: no Authorization header. */
async function scrape(url: string, key: string | null = operatorKey): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(url, key === null ? {} : { headers: { authorization: `Bearer ${key}` } });
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
  const node = await scrape(`http://127.0.0.1:${metrics.port}/metrics`, null);
  assert.equal(delivered(gw.text) - delivered(before.text), 5);
  assert.equal(delivered(node.text), delivered(gw.text));
  assert.match(gw.text, /^# TYPE sluice_webhook_deliveries_total counter/m);
});

test("gateway /metrics carries every tenant's figures, so it takes an operator key: none is 401, a tenant's admin key 403", async () => {
  sluiceMetrics().webhookDeliveries.add(1, { outcome: "ok", tenant: "metrics" });
  const anonymous = await scrape(`http://127.0.0.1:${gateway.port}/metrics`, null);
  assert.equal(anonymous.status, 401);
  assert.doesNotMatch(anonymous.text, /tenant="metrics"/);
  const tenant = await scrape(`http://127.0.0.1:${gateway.port}/metrics`, tenantKey);
  assert.equal(tenant.status, 403);
  assert.doesNotMatch(tenant.text, /tenant="metrics"/);
  assert.match((await scrape(`http://127.0.0.1:${gateway.port}/metrics`)).text, /tenant="metrics"/);
});

test("the node metrics port answers 404 elsewhere", async () => {
  const r = await scrape(`http://127.0.0.1:${metrics.port}/other`);
  assert.equal(r.status, 404);
  assert.match(r.text, /GET \/metrics only/);
});
