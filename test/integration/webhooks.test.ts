import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import type { FastifyInstance } from "fastify";
import {
  eventId,
  loadConfig,
  newId,
  recipientId,
  STREAMS,
  verifyWebhook,
  webhookLaneConsumerName,
  type EventTypeName,
  type MailEvent,
} from "../../protocol/index.ts";
import { ensureTopology, publishEvent, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startWebhookActor, type WebhookActor } from "../../actors/webhooks/index.ts";
import { startStatusIndexer, type StatusIndexer } from "../../actors/status-indexer.ts";
import { webhookRoutes } from "../../gateway/routes/webhooks.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { freePort, sleep, waitFor } from "../harness/ports.ts";
import { silent, testApp } from "./support/failure.ts";
import { untilEndpointLive } from "./support/endpoint-live.ts";

/** A real HTTP receiver: records every POST with its raw body and headers. */
interface Received {
  body: string;
  signature: string | undefined;
  event: MailEvent;
  at: number;
}
class Receiver {
  readonly received: Received[] = [];
  #server: Server | undefined;
  constructor(readonly port: number) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }
  async listen(): Promise<void> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        const sig = req.headers["sluice-signature"];
        this.received.push({ body, signature: typeof sig === "string" ? sig : undefined, event: JSON.parse(body) as MailEvent, at: Date.now() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => this.#server?.listen(this.port, "127.0.0.1", r));
  }
  async close(): Promise<void> {
    const s = this.#server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

const baseEnv = { SLUICE_PARTITIONS: "2", SLUICE_LOG_LEVEL: "silent", SLUICE_WEBHOOK_CONCURRENCY: "2", SLUICE_WEBHOOK_MAX_AGE: "1m" };
const config = loadConfig({ ...baseEnv, SLUICE_WEBHOOK_ALLOW_PRIVATE: "1" });
const guarded = loadConfig({ ...baseEnv, SLUICE_WEBHOOK_ALLOW_PRIVATE: "0" });
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let app: FastifyInstance;
let guardedApp: FastifyInstance;
let actor: WebhookActor;
let events: StatusIndexer;
const receivers: Receiver[] = [];
const as = (tenant: string) => ({ "x-test-tenant": tenant, "x-test-scopes": "admin" });

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  js = jetstream(nc);
  app = await testApp(nc, config, webhookRoutes);
  guardedApp = await testApp(nc, guarded, webhookRoutes);
  actor = await startWebhookActor(nc, config, silent, { backoffMs: [200, 400, 800], timeoutMs: 2000 });
  events = await startStatusIndexer(nc, config, silent); // the events consumer queues the webhook jobs
});

after(async () => {
  await events?.close();
  await actor?.close();
  await app?.close();
  await guardedApp?.close();
  for (const r of receivers) await r.close();
  await nc?.close();
  await server?.dispose();
});

async function register(tenant: string, url: string, events: EventTypeName[]): Promise<{ id: string; secret: string }> {
  const res = await app.inject({ method: "POST", url: "/v1/webhooks", headers: as(tenant), payload: { url, events } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { id: string; secret: string };
}

function event(tenant: string, messageId: string, type: EventTypeName, attempt: number): MailEvent {
  return { v: 1, id: eventId(messageId, type, attempt), type, tenant, messageId, at: Date.now(), attempt };
}

test("URLs on private, loopback or link-local addresses are refused unless allowed", async () => {
  for (const url of ["http://127.0.0.1:8080/h", "http://localhost/h", "http://[::1]/h", "http://169.254.169.254/latest/meta-data", "http://10.0.0.7/h", "http://[fd00::5]/h", "http://192.168.1.1/h"]) {
    const res = await guardedApp.inject({ method: "POST", url: "/v1/webhooks", headers: as("acme"), payload: { url, events: ["delivered"] } });
    assert.equal(res.statusCode, 400, url);
    assert.equal(res.json().error.code, "private_url", url);
    assert.equal(res.json().error.field, "url", url);
  }
  const ftp = await guardedApp.inject({ method: "POST", url: "/v1/webhooks", headers: as("acme"), payload: { url: "ftp://93.184.215.14/x", events: ["delivered"] } });
  assert.equal(ftp.statusCode, 400);
  assert.equal(ftp.json().error.field, "url");
  const noEvents = await guardedApp.inject({ method: "POST", url: "/v1/webhooks", headers: as("acme"), payload: { url: "https://93.184.215.14/x", events: [] } });
  assert.equal(noEvents.statusCode, 400);
  assert.equal(noEvents.json().error.field, "events");

  // A public address is accepted; the secret is in this answer only.
  const ok = await guardedApp.inject({ method: "POST", url: "/v1/webhooks", headers: as("acme"), payload: { url: "https://93.184.215.14/hooks", events: ["bounced"] } });
  assert.equal(ok.statusCode, 201, ok.body);
  const created = ok.json() as { id: string; secret: string; url: string };
  assert.match(created.secret, /^whsec_/);
  const shown = await guardedApp.inject({ method: "GET", url: `/v1/webhooks/${created.id}`, headers: as("acme") });
  assert.equal(shown.statusCode, 200);
  assert.equal(shown.json().secret, undefined);
  const listed = await guardedApp.inject({ method: "GET", url: "/v1/webhooks", headers: as("acme") });
  assert.deepEqual((listed.json() as { webhooks: { id: string; secret?: string }[] }).webhooks.map((w) => [w.id, w.secret]), [[created.id, undefined]]);
  const del = await guardedApp.inject({ method: "DELETE", url: `/v1/webhooks/${created.id}`, headers: as("acme") });
  assert.equal(del.statusCode, 204);
});

test("an endpoint down for a while gets every event after it returns, in order per message; a healthy one is not delayed", async () => {
  const healthy = new Receiver(await freePort());
  const flaky = new Receiver(await freePort()); // not listening yet: connection refused
  receivers.push(healthy, flaky);
  await healthy.listen();
  // The down endpoint first: once a probe reaches the healthy one, registered after it, both are known.
  const b = await register("hooks", flaky.url, ["queued", "deferred", "delivered"]);
  const a = await register("hooks", healthy.url, ["queued", "deferred", "delivered"]);
  // Events a subscriber must not get: another type, another tenant.
  const other = await register("otherco", healthy.url, ["bounced"]);
  const probe = recipientId(newId(), 0);
  let probes = 0;
  await untilEndpointLive(
    () => publishEvent(js, event("hooks", probe, "queued", probes++)),
    () => healthy.received.filter((r) => r.event.messageId === probe).length,
  );
  const notProbe = (r: Received) => r.event.messageId !== probe;

  const messages = Array.from({ length: 6 }, (_, i) => recipientId(newId(), i));
  const sequence: EventTypeName[] = ["queued", "deferred", "deferred", "delivered"];
  for (let step = 0; step < sequence.length; step++) {
    for (const id of messages) await publishEvent(js, event("hooks", id, sequence[step] as EventTypeName, step));
  }
  await publishEvent(js, event("hooks", messages[0] as string, "accepted", 9)); // not subscribed
  await publishEvent(js, event("otherco", messages[0] as string, "delivered", 9)); // other tenant, other type
  const total = messages.length * sequence.length;

  await waitFor("the healthy endpoint to get every event", () => (healthy.received.filter(notProbe).length >= total ? true : undefined), 15_000);
  assert.equal(flaky.received.length, 0, "the down endpoint got nothing yet");
  await sleep(1500); // the down endpoint keeps failing meanwhile (a pause that can only make the test harder)
  await flaky.listen();
  await waitFor("the returning endpoint to get every event", () => (flaky.received.filter(notProbe).length >= total ? true : undefined), 20_000);

  for (const [receiver, secret] of [
    [healthy, a.secret],
    [flaky, b.secret],
  ] as const) {
    const events = receiver.received.filter((r) => r.event.tenant === "hooks" && notProbe(r));
    assert.equal(new Set(events.map((r) => r.event.id)).size, total, "every event, none missing");
    assert.ok(events.every((r) => r.event.type !== "accepted"), "only subscribed types");
    for (const id of messages) {
      const attempts = events.filter((r) => r.event.messageId === id).map((r) => r.event.attempt);
      // At least once: a retried POST may repeat, but never goes back in time.
      const firsts = attempts.filter((x, i) => attempts.indexOf(x) === i);
      assert.deepEqual(firsts, [0, 1, 2, 3], `events of ${id} in order`);
      assert.deepEqual([...attempts].sort(), attempts, `events of ${id} in order`);
    }
    for (const r of events) {
      assert.equal(verifyWebhook(secret, r.body, r.signature).ok, true, "signed with the endpoint's secret");
      assert.deepEqual(verifyWebhook(secret, r.body.replace('"hooks"', '"hookz"'), r.signature), { ok: false, reason: "mismatch" });
    }
  }
  // The healthy endpoint had everything before the down one came back.
  const healthyDone = Math.max(...healthy.received.filter((r) => r.event.tenant === "hooks" && notProbe(r)).map((r) => r.at));
  const flakyFirst = Math.min(...flaky.received.filter(notProbe).map((r) => r.at));
  assert.ok(healthyDone < flakyFirst, "the healthy endpoint was not held back by the down one");
  assert.equal(healthy.received.filter((r) => r.event.tenant === "otherco").length, 0);
  void other;
});

test("deleting an endpoint removes its lanes and stops its deliveries", async () => {
  const receiver = new Receiver(await freePort());
  receivers.push(receiver);
  await receiver.listen();
  const hook = await register("delhooks", receiver.url, ["delivered"]);
  const id = recipientId(newId(), 0);
  let attempt = 1;
  await untilEndpointLive(() => publishEvent(js, event("delhooks", id, "delivered", attempt++)), () => receiver.received.length, "the first event");

  const del = await app.inject({ method: "DELETE", url: `/v1/webhooks/${hook.id}`, headers: as("delhooks") });
  assert.equal(del.statusCode, 204);
  const jsm = await jetstreamManager(nc);
  await assert.rejects(jsm.consumers.info(STREAMS.webhooks, webhookLaneConsumerName(hook.id, 0)));
  await publishEvent(js, event("delhooks", id, "delivered", 1000));
  await sleep(1000); // nothing may arrive: a pause can only let a wrong delivery show
  assert.equal(receiver.received.filter((r) => r.event.attempt === 1000).length, 0, "no delivery after the endpoint was deleted");
  const again = await app.inject({ method: "DELETE", url: `/v1/webhooks/${hook.id}`, headers: as("delhooks") });
  assert.equal(again.statusCode, 404);
});
