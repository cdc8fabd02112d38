import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startNodeServices, type NodeServices } from "../../actors/services.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { createApiKey, eventId, KV_BUCKETS, newId, publishEvent, recipientId, type MailEvent } from "../../protocol/index.ts";
import { untilEndpointLive } from "./support/endpoint-live.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { readEvents, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * Issue 11: a replayed dead letter is a new attempt series. Its outcome must reach the
 * status, the events, the webhooks and (if it fails again) the DLQ, however often it is replayed.
 */
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
let services: NodeServices;
let gateway: Gateway;
let receiver: Server;
let key: string;
let base: string;
const hooks: MailEvent[] = [];

before(async () => {
  // Refused twice (a policy 550: a bounce that does not suppress the address), then accepted.
  peer = await startSmtpPeer({ domains: { "twice.test": { rcpt: ({ attempt }) => (attempt <= 2 ? { code: 550, text: "5.7.1 Rejected by local policy" } : undefined) } } });
  world = await startWorld({
    SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
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
      hooks.push(JSON.parse(Buffer.concat(chunks).toString()) as MailEvent);
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

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const hookTypes = (id: string) => hooks.filter((e) => e.messageId === id).map((e) => e.type);
const count = (types: string[], t: string) => types.filter((x) => x === t).length;

async function statusTypes(id: string, last: string, n: number): Promise<string[]> {
  return waitFor(`status ${last} with ${n} events`, async () => {
    const s = await api("GET", `/v1/messages/${id}`);
    const types = ((s.json.events ?? []) as { type: string }[]).map((e) => e.type);
    return s.status === 200 && s.json.status === last && types.length === n ? types : undefined;
  });
}

test("dead letter → replay → dead letter again → replay → delivered: status, events, DLQ and webhooks follow every step", async () => {
  const addr = receiver.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const hook = await api("POST", "/v1/webhooks", { url: `http://127.0.0.1:${port}/hook`, events: ["queued", "bounced", "dead_lettered", "delivered"] });
  assert.equal(hook.status, 201, JSON.stringify(hook.json));
  const probe = recipientId(newId(), 0);
  let attempt = 1;
  await untilEndpointLive(
    () => publishEvent(world.js, { v: 1, id: eventId(probe, "delivered", attempt), type: "delivered", tenant: "acme", messageId: probe, at: Date.now(), attempt: attempt++ }),
    () => hooks.filter((e) => e.messageId === probe).length,
  );

  const sent = await api("POST", "/v1/messages", { from: "Acme <news@acme.test>", to: "pat@twice.test", subject: "Hello", text: "Hi" });
  assert.equal(sent.status, 202);
  const id = (sent.json.recipients as { id: string }[])[0]?.id as string;

  // 1. First series: bounced and dead-lettered.
  await waitFor("first dead_lettered webhook", () => (count(hookTypes(id), "dead_lettered") === 1 ? true : undefined));
  assert.deepEqual(await statusTypes(id, "bounced", 3), ["accepted", "bounced", "dead_lettered"]);
  const first = await api("GET", `/v1/dlq/${id}`);
  assert.equal(first.status, 200);

  // 2. Replay: tried again, refused again. A new dead letter, new events, new webhooks.
  assert.equal((await api("POST", `/v1/dlq/${id}/replay`)).status, 202);
  await waitFor("second dead_lettered webhook", () => (count(hookTypes(id), "dead_lettered") === 2 ? true : undefined));
  assert.deepEqual(await statusTypes(id, "bounced", 6), ["accepted", "bounced", "dead_lettered", "queued", "bounced", "dead_lettered"]);
  const second = await api("GET", `/v1/dlq/${id}`);
  assert.equal(second.status, 200, "the new dead letter is there, not purged by the replay");
  assert.ok((second.json.at as number) > (first.json.at as number));
  assert.equal((second.json.message as { replay?: number }).replay, 1);
  assert.deepEqual(hookTypes(id), ["bounced", "dead_lettered", "queued", "bounced", "dead_lettered"]);
  assert.equal(peer.rejected.filter((r) => r.domain === "twice.test").length, 2);

  // 3. Replay again: delivered, and no dead letter left.
  assert.equal((await api("POST", `/v1/dlq/${id}/replay`)).status, 202);
  await waitFor("delivered at the peer", () => (peer.messagesFor("twice.test").length === 1 ? true : undefined));
  await waitFor("delivered webhook", () => (hookTypes(id).includes("delivered") ? true : undefined));
  assert.equal((await statusTypes(id, "delivered", 8)).at(-1), "delivered");
  assert.equal((await api("GET", `/v1/dlq/${id}`)).status, 404);
  assert.deepEqual(hookTypes(id), ["bounced", "dead_lettered", "queued", "bounced", "dead_lettered", "queued", "delivered"]);

  // Every outcome is its own event on the stream: none was dropped as a duplicate.
  const events = (await readEvents(world)).filter((e) => e.messageId === id).map((e) => e.type);
  assert.deepEqual(events.sort(), ["accepted", "bounced", "bounced", "dead_lettered", "dead_lettered", "delivered", "queued", "queued"]);
});
