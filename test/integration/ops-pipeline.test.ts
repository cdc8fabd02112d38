import { spans } from "./ops-telemetry-setup.ts";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startFanout, type Fanout } from "../../actors/fanout/index.ts";
import { startWebhookActor, type WebhookActor } from "../../actors/webhooks/index.ts";
import { startStatusIndexer, type StatusIndexer } from "../../actors/status-indexer.ts";
import { createServer, type Server } from "node:http";
import { flushTracing, traceLogMixin } from "../../protocol/telemetry/index.ts";
import { eventId, newId, recipientId } from "../../protocol/index.ts";
import { createApiKey, publishEvent } from "../../protocol/io/index.ts";
import { jetstream } from "@nats-io/jetstream";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { sleep, waitFor } from "../harness/ports.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";
import { untilEndpointLive } from "./support/endpoint-live.ts";

// The operator's view of a real pipeline: gateway → JetStream → node → SMTP peer, in one
// process with the in-memory span exporter, plus `sluice send` as a separate process.

const run = promisify(execFile);
let fx: GatewayFixture;
let peer: SmtpPeer;
let node: ActorNode;
let fanout: Fanout;
let webhooks: WebhookActor;
let events: StatusIndexer;
let receiver: Server;
const hooks: string[] = [];
const nodeLog: string[] = [];
let key = "";
let operatorKey = "";
const tmp = mkdtempSync(join(tmpdir(), "sluice-ops-"));

before(async () => {
  peer = await startSmtpPeer();
  fx = await startGatewayFixture({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_NODE_ID: "ops-node", SLUICE_WEBHOOK_ALLOW_PRIVATE: "1" });
  // The fixture leaves out MAIL_SEND consumers; the node creates its own.
  const capture = { write: (line: string) => void nodeLog.push(line) };
  node = await startNode(fx.config, pino({ level: "debug", mixin: traceLogMixin }, capture), fx.nc);
  fanout = startFanout(fx.nc, fx.config, pino({ level: "warn" }));
  key = await fx.key("acme", ["send", "read"]);
  operatorKey = (await createApiKey(fx.keys, { tenant: "ops", scopes: ["read"], operator: true })).key;
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      hooks.push(body);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const addr = receiver.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  webhooks = await startWebhookActor(fx.nc, fx.config, pino({ level: "warn" }));
  events = await startStatusIndexer(fx.nc, fx.config, pino({ level: "warn" })); // queues the webhook jobs
  const admin = await fx.key("acme", ["admin"]);
  const reg = await fx.post("/v1/webhooks", { url: `http://127.0.0.1:${port}/hooks`, events: ["delivered"] }, admin);
  assert.equal(reg.status, 201, JSON.stringify(reg.body));
  const probe = recipientId(newId(), 0);
  let attempt = 1;
  await untilEndpointLive(
    () => publishEvent(jetstream(fx.nc), { v: 1, id: eventId(probe, "delivered", attempt), type: "delivered", tenant: "acme", messageId: probe, at: Date.now(), attempt: attempt++ }),
    () => hooks.filter((h) => h.includes(probe)).length,
  );
});

after(async () => {
  await events?.close();
  await webhooks?.close();
  receiver?.closeAllConnections();
  receiver?.close();
  await fanout?.close();
  await node?.close();
  await fx?.close();
  await peer?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function metric(name: string, labels: RegExp): Promise<number> {
  const text = await (await fetch(`${fx.url}/metrics`, { headers: { authorization: `Bearer ${operatorKey}` } })).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!labels.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

test("one message's trace has spans from the gateway, the node, SMTP and its webhook under one trace id", async () => {
  const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const res = await fx.post(
    "/v1/messages",
    { from: "shop@acme.test", to: "ann@trace.test", subject: "Order", text: "Thanks" },
    key,
    { traceparent: `00-${clientTrace}-00f067aa0ba902b7-01` },
  );
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const id = res.body.recipients[0].id as string;
  await waitFor("delivery at the peer", () => peer.messages.find((m) => m.rcptTo[0] === "ann@trace.test"), 20_000);
  const ours = await waitFor("the SMTP span", async () => {
    await flushTracing();
    const all = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === clientTrace);
    return all.some((s) => s.name.startsWith("smtp ")) && all.some((s) => s.name === "webhook POST") ? all : undefined;
  });
  const gateway = ours.find((s) => s.name === "POST /v1/messages");
  const deliver = ours.find((s) => s.name === "sluice.node.deliver");
  const smtp = ours.find((s) => s.name === "smtp 127.0.0.1");
  assert.ok(gateway && deliver && smtp, `spans: ${ours.map((s) => s.name).join(", ")}`);
  assert.equal(gateway.attributes["http.response.status_code"], 202);
  assert.equal(deliver.parentSpanContext?.spanId, gateway.spanContext().spanId, "the node continues the gateway's span");
  assert.equal(deliver.attributes["messaging.message.id"], id);
  assert.equal(smtp.parentSpanContext?.spanId, deliver.spanContext().spanId);
  assert.equal(smtp.attributes["smtp.reply.code"], 250);
  const hook = ours.find((s) => s.name === "webhook POST");
  assert.equal(hook?.attributes["messaging.message.id"], id);
  assert.equal(hook?.attributes["http.response.status_code"], 204);
  assert.ok(hooks.some((h) => h.includes(id)), "the receiver got the delivered event");
  const line = nodeLog.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.messageId === id && l.msg === "delivery attempt");
  assert.equal(line?.trace_id, clientTrace, "the node's log line names the message and its trace");
  assert.equal(line?.span_id, smtp.spanContext().spanId);
});

test("/metrics counters move as messages are delivered", async () => {
  const domain = /domain="count\.test"/;
  const deliveredBefore = await metric("sluice_messages_delivered_total", domain);
  const acceptedBefore = await metric("sluice_messages_accepted_total", /tier="transactional"/);
  const smtpBefore = await metric("sluice_smtp_transaction_seconds_count", /destination="count\.test"/);
  const to = Array.from({ length: 5 }, (_, i) => `user${i}@count.test`);
  const res = await fx.post("/v1/messages", { from: "shop@acme.test", to, subject: "Count", text: "Hi" }, key);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await waitFor("5 deliveries counted", async () => ((await metric("sluice_messages_delivered_total", domain)) - deliveredBefore === 5 ? true : undefined), 20_000);
  assert.equal(peer.messages.filter((m) => m.domain === "count.test").length, 5);
  assert.ok((await metric("sluice_messages_accepted_total", /tier="transactional"/)) - acceptedBefore >= 1, "accepted counted");
  assert.equal((await metric("sluice_smtp_transaction_seconds_count", /destination="count\.test"/)) - smtpBefore, 5);
  await waitFor("webhook lag recorded", async () => ((await metric("sluice_webhook_lag_seconds_count", /type="delivered"/)) >= 6 ? true : undefined), 20_000);
});

test("sluice send of a 1,000-line CSV delivers 1,000 messages and reports it", async () => {
  const rows = ["email,first_name,plan"];
  // 50 domains: each destination's default budget is 5/s, and this test is not about pacing.
  for (let i = 0; i < 1000; i++) rows.push(`user${i}@csv${i % 50}.test,"Name ${i}, Jr.",plan-${i % 3}`);
  rows.push("not-an-address,Nobody,none");
  const file = join(tmp, "recipients.csv");
  writeFileSync(file, rows.join("\r\n") + "\r\n");
  const before = peer.messages.length;
  const out = await run(
    process.execPath,
    ["bin/sluice.js", "send", "--csv", file, "--from", "News <news@acme.test>", "--subject", "Hello {{first_name}}", "--text", "Your plan: {{plan}}", "--url", fx.url, "--key", key, "--chunk", "400"],
    { timeout: 60_000 },
  ).catch((e: { stdout: string; stderr: string; code: number }) => e);
  assert.match(out.stdout, /^accepted: 1000$/m, out.stderr);
  assert.match(out.stdout, /^rejected: 1$/m);
  assert.match(out.stdout, /line 1002: not-an-address is not an email address/);
  assert.equal((out as { code?: number }).code, 1, "exit status 1 when a row was rejected");
  await peer.waitForMessages(before + 1000, 50_000);
  const csvMail = peer.messages.filter((m) => m.domain.startsWith("csv"));
  assert.equal(csvMail.length, 1000);
  const one = csvMail.find((m) => m.rcptTo[0] === "user42@csv42.test")?.raw.toString() ?? "";
  assert.match(one, /Subject: Hello Name 42, Jr\./);
  assert.match(one, /Your plan: plan-0/);
  // A batch's trace goes request → job → fan-out → each recipient's delivery.
  // (The peer records a message before the node has read the 250 and ended its span.)
  const batchTraces = new Set(spans.getFinishedSpans().filter((x) => x.name === "POST /v1/batches").map((x) => x.spanContext().traceId));
  assert.equal(batchTraces.size, 3, "1,000 rows in chunks of 400: three batch requests");
  await waitFor("1,000 deliver spans in the batches' traces", async () => {
    await flushTracing();
    const n = spans.getFinishedSpans().filter((x) => x.name === "sluice.node.deliver" && batchTraces.has(x.spanContext().traceId)).length;
    return n === 1000 ? true : undefined;
  }, 10_000);
});

test("sluice send --direct publishes through the producer SDK, no gateway involved", async () => {
  const { stdout } = await run(
    process.execPath,
    ["bin/sluice.js", "send", "--direct", "--tenant", "acme", "--to", "bob@direct.test", "--from", "shop@acme.test", "--subject", "Direct", "--text", "Straight to NATS", "--json"],
    { timeout: 30_000, env: { ...process.env, NATS_URL: fx.server.url, SLUICE_PARTITIONS: String(fx.config.partitions), SLUICE_REQUIRE_VERIFIED_DOMAINS: "0" } },
  );
  const summary = JSON.parse(stdout) as { accepted: number; rejected: unknown[]; ids: string[] };
  assert.equal(summary.accepted, 1);
  assert.deepEqual(summary.rejected, []);
  const got = await waitFor("the direct message at the peer", () => peer.messages.find((m) => m.rcptTo[0] === "bob@direct.test"), 20_000);
  assert.match(got.raw.toString(), /Subject: Direct/);
});
