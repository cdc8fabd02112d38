import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm, type KV } from "@nats-io/kv";
import {
  KV_BUCKETS,
  unsubscribeKey,
  unsubscribeToken,
  verpAddress,
  verpKey,
} from "../../protocol/index.ts";
import { createApiKey, getSuppression, readMessageStatus } from "../../protocol/io/index.ts";
import { startPostfix, type Postfix } from "../harness/postfix.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { readEvents } from "./delivery-fixtures.ts";
import { hardBounceDsn, sendToInbound } from "./support/inbound-mail.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

// Issue 15, the reputation loop against a real MTA: Postfix accepts mail for dest.test (250:
// Sluice records `delivered`), then fails some of it itself — `error:` for gone@ (a hard
// bounce, at once) and `retry:` with a queue lifetime of 0 for full@ (deferred, then returned
// as expired: a soft bounce) — and delivers the DSNs it writes to Sluice's inbound port through
// a transport map for the bounce domain. Sluice must tie each DSN to its message by the VERP
// address, move the hard one to `bounced` (async) and suppress it, report the soft one without
// suppressing, and call the webhook. Complaints (ARF), forged bounces and one-click unsubscribe
// ride on the same pipeline.

const SECRET = "test-secret-0123456789abcdef";
const BOUNCE_DOMAIN = "bounces.test";
let postfix: Postfix;
let p: Pipeline;
let suppressions: KV;
let inboundPort: number;

before(async () => {
  inboundPort = await freePort();
  postfix = await startPostfix({
    domains: ["dest.test"],
    transports: {
      "gone@dest.test": "error:5.1.1 User unknown",
      "full@dest.test": "retry:4.2.2 Mailbox full",
      [BOUNCE_DOMAIN]: `smtp:[127.0.0.1]:${inboundPort}`,
    },
    queueLifetime: "0",
  });
  p = await startPipeline(
    {},
    {
      SLUICE_ROUTES: `*=127.0.0.1:${postfix.port}`,
      SLUICE_BOUNCE_DOMAIN: BOUNCE_DOMAIN,
      SLUICE_SECRET_KEY: SECRET,
      SLUICE_PUBLIC_URL: "https://mail.example.test",
      SLUICE_INBOUND_HOST: "127.0.0.1",
      SLUICE_INBOUND_PORT: String(inboundPort),
      SLUICE_INBOUND_RATE: "20",
      SLUICE_INBOUND_MAX_SIZE: "64KB",
    },
  );
  suppressions = await new Kvm(p.world.nc).open(KV_BUCKETS.suppressions);
  await p.registerHook(["delivered", "bounced", "soft_bounced", "complained", "unsubscribed"]);
});

after(async () => {
  await p?.close();
  await postfix?.stop();
});

async function send(to: string, as?: string): Promise<string> {
  const res = await p.api("POST", "/v1/messages", { from: "Acme <news@acme.test>", to, subject: "Hello", text: "Hi", tier: "bulk" }, as);
  assert.equal(res.status, 202, JSON.stringify(res.json));
  const id = (res.json.recipients as { id: string }[])[0]?.id;
  assert.ok(id);
  return id;
}

const eventsOf = async (id: string) => (await readEvents(p.world)).filter((e) => e.messageId === id);

const deliverInbound = (rcpt: string, raw: string): Promise<void> => sendToInbound(inboundPort, rcpt, raw);

test("Postfix's own DSNs come back through the inbound port: a hard bounce after delivered becomes bounced (async) and suppresses; a soft one is reported and suppresses nothing", async () => {
  const gone = await send("gone@dest.test");
  const full = await send("full@dest.test");
  await waitFor("bounced event for gone@", async () => ((await eventsOf(gone)).some((e) => e.type === "bounced") ? true : undefined), 30_000, 200);
  await waitFor("soft_bounced event for full@", async () => ((await eventsOf(full)).some((e) => e.type === "soft_bounced") ? true : undefined), 30_000, 200).catch((e: unknown) => {
    process.stderr.write(postfix.log());
    throw e;
  });

  const goneEvents = await eventsOf(gone);
  assert.ok(goneEvents.some((e) => e.type === "delivered"), "Postfix answered 250 first");
  const bounced = goneEvents.find((e) => e.type === "bounced");
  assert.equal(bounced?.async, true);
  assert.equal(bounced?.category, "unknown_user");
  assert.equal(bounced?.rcptTo, "gone@dest.test");
  assert.equal((await getSuppression(suppressions, "acme", "gone@dest.test"))?.reason, "hard_bounce");

  const soft = (await eventsOf(full)).find((e) => e.type === "soft_bounced");
  assert.equal(soft?.async, true);
  assert.equal(await getSuppression(suppressions, "acme", "full@dest.test"), undefined, "a soft bounce suppresses nothing");

  const status = await p.api("GET", `/v1/messages/${gone}`);
  assert.equal(status.json.status, "bounced", JSON.stringify(status.json));
  await waitFor("webhook for the async bounce", () => (p.hooks.some((h) => h.event.messageId === gone && h.event.type === "bounced") ? true : undefined), 15_000, 100);
  const kv = await new Kvm(p.world.nc).open(KV_BUCKETS.status);
  assert.equal((await readMessageStatus(kv, "acme", full))?.status, "delivered", "a soft bounce after delivery leaves the status");
});

test("a tenant whose name is too long for a 64-character VERP local part still gets its bounces: the tenant is found by the recipient id", async () => {
  const tenant = "a-very-long-tenant-name-for-an-enterprise-customer";
  const key = (await createApiKey(await new Kvm(p.world.nc).open(KV_BUCKETS.keys), { tenant, scopes: ["send", "read"] })).key;
  const gone = await send("gone@dest.test", key);
  await waitFor("bounced event for the long tenant's gone@", async () => ((await eventsOf(gone)).some((e) => e.type === "bounced") ? true : undefined), 30_000, 200);
  const bounced = (await eventsOf(gone)).find((e) => e.type === "bounced");
  assert.equal(bounced?.tenant, tenant);
  assert.equal(bounced?.async, true);
  assert.equal((await getSuppression(suppressions, tenant, "gone@dest.test"))?.reason, "hard_bounce");
  // Postfix's log names the envelope sender it bounced to: a local part of at most 64 characters.
  const senders = [...postfix.log().matchAll(/from=<(b-[^@>]*)@/g)].map((m) => m[1]!).filter((l) => !l.includes("-acme-"));
  assert.ok(senders.length > 0, "the long tenant's envelope sender is in Postfix's log");
  for (const local of senders) assert.ok(local.length <= 64, `${local} is ${local.length} characters`);
});

test("a complaint (ARF to fbl@) about a signed message suppresses; forged bounces — a wrong mac, another tenant's recipient, no VERP at all — change nothing", async () => {
  const liked = await send("liked@dest.test");
  const victim = await send("victim@dest.test");
  await waitFor("both delivered", async () => ((await eventsOf(liked)).some((e) => e.type === "delivered") && (await eventsOf(victim)).some((e) => e.type === "delivered") ? true : undefined), 20_000, 100);

  const key = verpKey(SECRET);
  const real = verpAddress(key, { tenant: "acme", recipientId: victim, rcptTo: "victim@dest.test", domain: BOUNCE_DOMAIN });
  const wrongMac = real.replace(/-([0-9a-z]{16})@/, (_m, mac: string) => `-${mac.split("").reverse().join("")}@`);
  const otherTenant = verpAddress(verpKey("another-secret-0123456789"), { tenant: "acme", recipientId: victim, rcptTo: "victim@dest.test", domain: BOUNCE_DOMAIN });
  const forgedAsOther = real.replace("-acme-", "-other-");
  for (const rcpt of [wrongMac, otherTenant, forgedAsOther]) await deliverInbound(rcpt, hardBounceDsn("victim@dest.test"));
  await deliverInbound(`fbl@${BOUNCE_DOMAIN}`, hardBounceDsn("victim@dest.test").replace(/Return-Path: <[^>]*>/, "Return-Path: <news@acme.test>"));

  const likedVerp = verpAddress(key, { tenant: "acme", recipientId: liked, rcptTo: "liked@dest.test", domain: BOUNCE_DOMAIN });
  await deliverInbound(`fbl@${BOUNCE_DOMAIN}`, arf("liked@dest.test", likedVerp));
  await waitFor("complained event", async () => ((await eventsOf(liked)).some((e) => e.type === "complained") ? true : undefined), 15_000, 100);
  assert.equal((await getSuppression(suppressions, "acme", "liked@dest.test"))?.reason, "complaint");
  // The forged ones were stored before the complaint and the consumer takes them in order.
  assert.equal(await getSuppression(suppressions, "acme", "victim@dest.test"), undefined, "no forged bounce suppressed");
  assert.equal(await getSuppression(suppressions, "other", "victim@dest.test"), undefined);
  assert.deepEqual((await eventsOf(victim)).filter((e) => e.async === true).map((e) => e.type), [], "no event from a forged bounce");
  await waitFor("complaint webhook", () => (p.hooks.some((h) => h.event.messageId === liked && h.event.type === "complained") ? true : undefined), 15_000, 100);
});

test("the inbound server relays nothing: a recipient outside the bounce domain is refused", async () => {
  await assert.rejects(deliverInbound("someone@elsewhere.test", "Subject: relay?\r\n\r\nhi\r\n"), /550|No such recipient|Can't send mail/i);
});

test("one-click unsubscribe: POST with the signed token suppresses with reason unsubscribe and publishes unsubscribed; a forged token is 404; GET only shows a page", async () => {
  const id = await send("reader@dest.test");
  const token = unsubscribeToken(unsubscribeKey(SECRET), { tenant: "acme", recipientId: id, address: "reader@dest.test" });
  const get = await fetchGateway(`/v1/unsubscribe/${token}`, "GET");
  assert.equal(get.status, 200);
  assert.match(get.text, /reader@dest\.test/);
  assert.equal(await getSuppression(suppressions, "acme", "reader@dest.test"), undefined, "GET does not unsubscribe");
  const forged = await fetchGateway(`/v1/unsubscribe/${token.slice(0, -3)}xyz`, "POST");
  assert.equal(forged.status, 404);
  const post = await fetchGateway(`/v1/unsubscribe/${token}`, "POST", "List-Unsubscribe=One-Click");
  assert.equal(post.status, 200, post.text);
  assert.equal((await getSuppression(suppressions, "acme", "reader@dest.test"))?.reason, "unsubscribe");
  await waitFor("unsubscribed webhook", () => (p.hooks.some((h) => h.event.messageId === id && h.event.type === "unsubscribed") ? true : undefined), 15_000, 100);
});

test("the inbound server refuses a message over SLUICE_INBOUND_MAX_SIZE", async () => {
  const big = `Subject: big\r\n\r\n${"x".repeat(70).concat("\r\n").repeat(1200)}`;
  await assert.rejects(deliverInbound(`fbl@${BOUNCE_DOMAIN}`, big), /552|too big|size/i);
});

test("the inbound server limits messages per client address: past SLUICE_INBOUND_RATE a minute it answers 450", async () => {
  let refused: unknown;
  for (let i = 0; i < 25 && refused === undefined; i++) {
    await deliverInbound(`fbl@${BOUNCE_DOMAIN}`, "Subject: hello\r\n\r\nnot a report\r\n").catch((e: unknown) => {
      refused = e;
    });
  }
  assert.match(String((refused as Error | undefined)?.message), /450|slow down/i);
});

async function fetchGateway(path: string, method: string, form?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(p.gatewayUrl + path, { method, ...(form === undefined ? {} : { body: form, headers: { "content-type": "application/x-www-form-urlencoded" } }) });
  return { status: res.status, text: await res.text() };
}

function arf(rcpt: string, returnPath: string): string {
  return [
    "From: feedback@fbl.example.test",
    `To: fbl@${BOUNCE_DOMAIN}`,
    "Subject: Abuse report",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=feedback-report; boundary="f"',
    "",
    "--f",
    "Content-Type: text/plain",
    "",
    "This is an email abuse report.",
    "--f",
    "Content-Type: message/feedback-report",
    "",
    "Feedback-Type: abuse",
    "User-Agent: test-fbl/1.0",
    "Version: 1",
    `Original-Rcpt-To: ${rcpt}`,
    "",
    "--f",
    "Content-Type: message/rfc822",
    "",
    `Return-Path: <${returnPath}>`,
    "From: Acme <news@acme.test>",
    `To: ${rcpt}`,
    "Subject: Hello",
    "",
    "Hi",
    "--f--",
    "",
  ].join("\r\n");
}
