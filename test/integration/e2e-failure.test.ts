import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startNodeServices, type NodeServices } from "../../actors/services.ts";
import { SIGNATURE_HEADER, verifyWebhook } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

// The whole failure path through every part at once, as a client sees it: the gateway
// accepts, the node meets a 550 5.1.1, the address is suppressed, the message is
// dead-lettered, a signed webhook arrives, and a replay from the DLQ delivers once the
// mailbox exists.

interface Received {
  body: string;
  signature: string;
  event: { type: string; messageId: string };
}

let fx: GatewayFixture;
let peer: SmtpPeer;
let node: ActorNode;
let services: NodeServices;
let receiver: Server;
let receiverUrl = "";
const received: Received[] = [];
let mailboxExists = false;

before(async () => {
  peer = await startSmtpPeer({
    domains: {
      "gone.test": {
        rcpt: () => (mailboxExists ? undefined : { code: 550, enhanced: "5.1.1", text: "The email account that you tried to reach does not exist." }),
      },
    },
  });
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      received.push({ body, signature: String(req.headers[SIGNATURE_HEADER] ?? ""), event: JSON.parse(body) as Received["event"] });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  fx = await startGatewayFixture({
    SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
    SLUICE_NODE_ID: "e2e-failure",
    SLUICE_WEBHOOK_ALLOW_PRIVATE: "1",
    SLUICE_RETRY_SCHEDULE: "1s,2s",
    SLUICE_MAX_AGE: "1m",
  });
  const logger = pino({ level: "warn" });
  node = await startNode(fx.config, logger, fx.nc);
  services = await startNodeServices(fx.nc, fx.config, logger);
});

after(async () => {
  await services?.close();
  await node?.close();
  await fx?.close();
  await peer?.close();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

async function call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(fx.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

test("550 5.1.1: bounced, suppressed, dead-lettered, signed webhook; a replay delivers once the mailbox exists", async () => {
  const admin = await fx.key("acme", ["send", "read", "admin"]);
  const hook = await call("POST", "/v1/webhooks", admin, { url: receiverUrl, events: ["bounced", "delivered", "dead_lettered"] });
  assert.equal(hook.status, 201, JSON.stringify(hook.body));
  const secret = hook.body.secret as string;
  assert.match(secret, /^whsec_/);

  const sent = await call("POST", "/v1/messages", admin, { from: "shop@acme.test", to: "ghost@gone.test", subject: "Order", text: "Thanks" });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const id = sent.body.recipients[0].id as string;

  // The webhook: signed, verifiable with the secret, and a tampered body is refused.
  const bounced = await waitFor("the bounced webhook", () => received.find((r) => r.event.type === "bounced" && r.event.messageId === id), 30_000);
  assert.equal(verifyWebhook(secret, bounced.body, bounced.signature).ok, true, "signature verifies");
  assert.equal(verifyWebhook(secret, bounced.body.replace("bounced", "delivered"), bounced.signature).ok, false, "a tampered body fails");

  const status = await waitFor("status dead_lettered", async () => {
    const s = await call("GET", `/v1/messages/${id}`, admin);
    return s.status === 200 && ["bounced", "dead_lettered"].includes(s.body.status) ? s.body : undefined;
  }, 20_000);
  assert.ok(status.events.some((e: { type: string }) => e.type === "bounced"), JSON.stringify(status));

  const suppression = await call("GET", `/v1/suppressions/${encodeURIComponent("ghost@gone.test")}`, admin);
  assert.equal(suppression.status, 200, JSON.stringify(suppression.body));
  assert.equal(suppression.body.reason, "hard_bounce");

  const dlq = await waitFor("the dead letter", async () => {
    const list = await call("GET", "/v1/dlq", admin);
    return list.body.deadLetters.find((d: { id: string }) => d.id === id);
  }, 20_000);
  assert.equal(dlq.reason.code, "bounce");
  assert.equal(dlq.attempts.length, 1);
  assert.equal(dlq.attempts[0].code, 550);

  // Another tenant sees none of it.
  const other = await fx.key("globex", ["send", "read", "admin"]);
  assert.equal((await call("GET", `/v1/dlq/${id}`, other)).status, 404);
  assert.equal((await call("GET", `/v1/messages/${id}`, other)).status, 404);

  // The mailbox is created; the operator lifts the suppression and replays the dead letter.
  mailboxExists = true;
  assert.equal((await call("DELETE", `/v1/suppressions/${encodeURIComponent("ghost@gone.test")}`, admin)).status, 204);
  const replay = await call("POST", `/v1/dlq/${id}/replay`, admin);
  assert.equal(replay.status, 202, JSON.stringify(replay.body));
  await waitFor("delivery of the replayed message", () => peer.messagesFor("gone.test").length === 1 || undefined, 30_000);
  await waitFor("the delivered webhook", () => received.find((r) => r.event.type === "delivered" && r.event.messageId === id), 30_000);
  assert.equal((await call("GET", `/v1/dlq/${id}`, admin)).status, 404, "a replayed dead letter leaves the DLQ");
});
