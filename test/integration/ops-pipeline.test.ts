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
import { flushTracing } from "../../protocol/telemetry/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

// The operator's view of a real pipeline: gateway → JetStream → node → SMTP peer, in one
// process with the in-memory span exporter, plus `sluice send` as a separate process.

const run = promisify(execFile);
let fx: GatewayFixture;
let peer: SmtpPeer;
let node: ActorNode;
let fanout: Fanout;
let key = "";
const tmp = mkdtempSync(join(tmpdir(), "sluice-ops-"));

before(async () => {
  peer = await startSmtpPeer();
  fx = await startGatewayFixture({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_NODE_ID: "ops-node" });
  // The fixture leaves out MAIL_SEND consumers; the node creates its own.
  node = await startNode(fx.config, pino({ level: "warn" }), fx.nc);
  fanout = startFanout(fx.nc, fx.config, pino({ level: "warn" }));
  key = await fx.key("acme", ["send", "read"]);
});

after(async () => {
  await fanout?.close();
  await node?.close();
  await fx?.close();
  await peer?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function metric(name: string, labels: RegExp): Promise<number> {
  const text = await (await fetch(`${fx.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!labels.test(line)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

test("one message's trace has spans from the gateway, the node and SMTP under one trace id", async () => {
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
    return all.some((s) => s.name.startsWith("smtp ")) ? all : undefined;
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
});

test("sluice send of a 1,000-line CSV delivers 1,000 messages and reports it", async () => {
  const rows = ["email,first_name,plan"];
  for (let i = 0; i < 1000; i++) rows.push(`user${i}@csv${i % 7}.test,"Name ${i}, Jr.",plan-${i % 3}`);
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
  const one = csvMail.find((m) => m.rcptTo[0] === "user42@csv0.test")?.raw.toString() ?? "";
  assert.match(one, /Subject: Hello Name 42, Jr\./);
  assert.match(one, /Your plan: plan-0/);
});
