import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startNodeServices, type NodeServices } from "../../actors/services.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { createApiKey, eventId, KV_BUCKETS, newId, publishEvent, recipientId, verifyWebhook, type MailEvent } from "../../protocol/index.ts";
import { jetstream } from "@nats-io/jetstream";
import { untilEndpointLive } from "./support/endpoint-live.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * The failure paths end to end, through the real gateway, node and node services:
 * 550 5.1.1 → bounced, suppressed, in the DLQ, a signed webhook, status `bounced`;
 * then the operator lifts the suppression and replays the dead letter, and it is delivered.
 */
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
let services: NodeServices;
let gateway: Gateway;
let receiver: Server;
let key: string;
let base: string;
const received: { body: string; signature: string | undefined; event: MailEvent }[] = [];

before(async () => {
  peer = await startSmtpPeer({
    domains: {
      "unknown.test": { rcpt: () => ({ code: 550, text: "5.1.1 The email account that you tried to reach does not exist" }) },
      // Unknown at first, then the mailbox is created: the replay is delivered.
      "later.test": { rcpt: ({ attempt }) => (attempt === 1 ? { code: 550, text: "5.1.1 User Unknown" } : undefined) },
    },
  });
  world = await startWorld({
    SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
    SLUICE_RETRY_SCHEDULE: "1s",
    SLUICE_MAX_AGE: "5s",
    SLUICE_WEBHOOK_ALLOW_PRIVATE: "1",
    SLUICE_HTTP_HOST: "127.0.0.1",
    SLUICE_HTTP_PORT: "0",
  });
  node = await startNode(world.config, world.logger, world.nc);
  services = await startNodeServices(world.nc, world.config, world.logger);
  gateway = await startGateway(world.config, pino({ level: "silent" }), world.nc, { keyCacheMs: 200 });
  base = `http://127.0.0.1:${gateway.port}`;
  key = (await createApiKey(await new Kvm(world.nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["admin"] })).key;
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const sig = req.headers["sluice-signature"];
      received.push({ body, signature: typeof sig === "string" ? sig : undefined, event: JSON.parse(body) as MailEvent });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
});

after(async () => {
  await gateway?.close();
  await services?.close();
  await node?.close();
  await peer?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  await world?.dispose();
});

async function api(method: string, path: string, body?: unknown, as: string = key): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function send(to: string): Promise<string> {
  const res = await api("POST", "/v1/messages", { from: "Acme <news@acme.test>", to, subject: "Hello", text: "Hi" });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  const id = (res.json.recipients as { id: string }[])[0]?.id;
  assert.ok(id);
  return id;
}

const webhookEvents = (id: string) => received.filter((r) => r.event.messageId === id);

test("550 5.1.1: bounced, suppressed, in the DLQ, a signed webhook, and status bounced", async () => {
  const addr = receiver.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const hook = await api("POST", "/v1/webhooks", { url: `http://127.0.0.1:${port}/sluice`, events: ["bounced", "dead_lettered", "delivered", "queued"] });
  assert.equal(hook.status, 201, JSON.stringify(hook.json));
  const secret = hook.json.secret as string;
  const probe = recipientId(newId(), 0);
  let attempt = 1;
  await untilEndpointLive(
    () => publishEvent(jetstream(world.nc), { v: 1, id: eventId(probe, "delivered", attempt), type: "delivered", tenant: "acme", messageId: probe, at: Date.now(), attempt: attempt++ }),
    () => webhookEvents(probe).length,
  );

  const id = await send("Ghost@unknown.test");
  await waitFor("bounced and dead_lettered webhooks", () => {
    const types = webhookEvents(id).map((r) => r.event.type);
    return types.includes("bounced") && types.includes("dead_lettered") ? true : undefined;
  }, 20_000);
  for (const r of webhookEvents(id)) assert.equal(verifyWebhook(secret, r.body, r.signature).ok, true, "signature verifies");
  const first = webhookEvents(id)[0];
  assert.ok(first);
  assert.equal(verifyWebhook(secret, first.body.replace('"bounced"', '"delivered"'), first.signature).ok, false, "a tampered body fails");
  assert.deepEqual(webhookEvents(id).map((r) => r.event.type), ["bounced", "dead_lettered"], "in order");
  assert.equal(webhookEvents(id)[0]?.event.reply?.code, 550);

  const status = await waitFor("status bounced", async () => {
    const s = await api("GET", `/v1/messages/${id}`);
    return s.status === 200 && s.json.status === "bounced" ? s.json : undefined;
  });
  assert.deepEqual((status.events as { type: string }[]).map((e) => e.type), ["accepted", "bounced", "dead_lettered"]);
  const suppression = await api("GET", "/v1/suppressions/ghost@unknown.test");
  assert.equal(suppression.status, 200);
  assert.equal(suppression.json.reason, "hard_bounce");
  const dlq = await api("GET", "/v1/dlq");
  const dead = (dlq.json.deadLetters as { id: string; reason: { code: string }; attempts: { code?: number }[] }[]).find((d) => d.id === id);
  assert.ok(dead, "in the DLQ");
  assert.equal(dead.reason.code, "bounce");
  assert.deepEqual(dead.attempts.map((a) => a.code), [550]);

  // Another tenant sees none of it.
  const other = (await createApiKey(await new Kvm(world.nc).open(KV_BUCKETS.keys), { tenant: "globex", scopes: ["admin"] })).key;
  assert.equal((await api("GET", `/v1/dlq/${id}`, undefined, other)).status, 404);
  assert.equal((await api("GET", `/v1/messages/${id}`, undefined, other)).status, 404);
  assert.equal((await api("GET", "/v1/suppressions/ghost@unknown.test", undefined, other)).status, 404);
});

test("replay from the DLQ delivers once the address is fixed", async () => {
  const id = await send("carol@later.test");
  await waitFor("dead letter", async () => ((await api("GET", `/v1/dlq/${id}`)).status === 200 ? true : undefined), 20_000);
  // The hard bounce suppressed the address: lift it first, or the replay is suppressed again.
  assert.equal((await api("DELETE", "/v1/suppressions/carol@later.test")).status, 204);
  const replay = await api("POST", `/v1/dlq/${id}/replay`);
  assert.equal(replay.status, 202);

  await waitFor("delivered at the peer", () => (peer.messagesFor("later.test").length === 1 ? true : undefined), 20_000);
  await waitFor("delivered webhook", () => (webhookEvents(id).some((r) => r.event.type === "delivered") ? true : undefined), 20_000);
  const status = await waitFor("status delivered", async () => {
    const s = await api("GET", `/v1/messages/${id}`);
    return s.status === 200 && s.json.status === "delivered" ? s.json : undefined;
  });
  assert.ok((status.events as { type: string }[]).some((e) => e.type === "queued"), "the replay is in the history");
  assert.equal((await api("GET", `/v1/dlq/${id}`)).status, 404, "no longer a dead letter");
});
