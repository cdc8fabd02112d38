import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Objm } from "@nats-io/obj";
import { decode, DeliveryMessage, MailEvent, OBJECT_STORES, partitionOf, STREAMS, subjects } from "../../protocol/index.ts";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";
import { sleep, waitFor } from "../harness/ports.ts";

let fx: GatewayFixture;
let key: string;

before(async () => {
  fx = await startGatewayFixture({ SLUICE_MAX_MESSAGE_SIZE: "64KB", SLUICE_INLINE_PAYLOAD_MAX: "2KB" });
  key = await fx.key("acme");
});
after(async () => {
  await fx?.close();
});

async function lastOn(subject: string): Promise<DeliveryMessage> {
  const m = await fx.jsm.streams.getMessage(STREAMS.send, { last_by_subj: subject });
  assert.ok(m, `a message on ${subject}`);
  const d = decode(DeliveryMessage, m.data, "delivery");
  assert.ok(d.ok, d.ok ? "" : d.error.message);
  return d.value;
}

test("202 with one id per recipient, each stored on its (tier, partition) subject", async () => {
  const before = await fx.sendCount();
  const res = await fx.post("/v1/messages", simpleMessage({ to: ["ann@example.com", "Bob <bob@bücher.de>"], cc: "cy@example.org", bcc: ["ann@example.com"], tier: "critical" }), key);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.match(res.body.id, /^[0-9a-z]{26}$/);
  assert.deepEqual(
    res.body.recipients.map((r: { to: string }) => r.to),
    ["ann@example.com", "bob@xn--bcher-kva.de", "cy@example.org"],
    "to, cc, bcc in order, duplicates once, domains canonical (IDN as A-label)",
  );
  assert.equal(await fx.sendCount(), before + 3);
  const last = (await fx.jsm.streams.info(STREAMS.send)).state.last_seq;
  const stored = await Promise.all([last - 2, last - 1, last].map((seq) => fx.jsm.streams.getMessage(STREAMS.send, { seq })));
  const bobMsg = stored.find((m) => m !== null && decode(DeliveryMessage, m.data, "d").ok && m.json<DeliveryMessage>().rcptTo === "bob@xn--bcher-kva.de");
  assert.ok(bobMsg);
  assert.equal(bobMsg.subject, subjects.send("critical", partitionOf("bücher.de", fx.config.partitions)));
  const bob = bobMsg.json<DeliveryMessage>();
  assert.equal(bob.id, `${res.body.id}-1`);
  assert.equal(bob.tenant, "acme");
  assert.equal(bob.mailFrom, "news@acme.test");
  assert.ok("ref" in bob.payload, "a payload shared by 3 recipients is stored, not inlined");
});

test("one accepted event per request carries the recipient count", async () => {
  const res = await fx.post("/v1/messages", simpleMessage({ to: ["a1@example.com", "a2@example.com"] }), key);
  assert.equal(res.status, 202);
  const m = await fx.jsm.streams.getMessage(STREAMS.events, { last_by_subj: subjects.event("acme", "accepted") });
  assert.ok(m);
  const e = decode(MailEvent, m.data, "event");
  assert.ok(e.ok);
  assert.equal(e.value.messageId, `${res.body.id}-0`);
  assert.equal(e.value.requestId, res.body.id);
  assert.equal(e.value.metadata?.recipients, "2");
});

test("a small single-recipient payload rides inline; a big one is stored", async () => {
  const small = await fx.post("/v1/messages", simpleMessage({ to: "inline@example.net" }), key);
  assert.equal(small.status, 202);
  const subj = subjects.send("transactional", partitionOf("example.net", fx.config.partitions));
  assert.ok("inline" in (await lastOn(subj)).payload);
  const big = await fx.post("/v1/messages", simpleMessage({ to: "inline@example.net", text: "x".repeat(3000) }), key);
  assert.equal(big.status, 202);
  assert.ok("ref" in (await lastOn(subj)).payload);
});

test("the same payload sent again is not stored again", async () => {
  const os = await new Objm(fx.nc).open(OBJECT_STORES.payloads);
  const body = simpleMessage({ to: ["d1@example.com", "d2@example.com"], text: `dedup ${Date.now()}` });
  const count = async () => (await os.list()).length;
  const before = await count();
  assert.equal((await fx.post("/v1/messages", body, key)).status, 202);
  assert.equal(await count(), before + 1);
  const again = await fx.post("/v1/messages", body, key);
  assert.equal(again.status, 202);
  assert.equal(await count(), before + 1, "the second request points at the first request's object");
  const m = await fx.jsm.streams.getMessage(STREAMS.send, { seq: (await fx.jsm.streams.info(STREAMS.send)).state.last_seq });
  assert.ok(m);
  const payload = m.json<DeliveryMessage>().payload;
  assert.ok("ref" in payload && (await os.info(payload.ref)) !== null);
});

test("401 without a key, with a bad key and with a revoked key; 403 without the scope", async () => {
  const none = await fx.post("/v1/messages", simpleMessage(), undefined);
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, "unauthorized");
  assert.equal((await fx.post("/v1/messages", simpleMessage(), "sk_" + "x".repeat(32))).status, 401);
  assert.equal((await fx.post("/v1/messages", simpleMessage(), "garbage")).status, 401);
  const reader = await fx.key("acme", ["read"]);
  const forbidden = await fx.post("/v1/messages", simpleMessage(), reader);
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.body.error.code, "forbidden");
  assert.match(forbidden.body.error.message, /sluice keys create --tenant acme --scopes read,send/, "the 403 says which key would do");

  const { hashApiKey, keyIdOf } = await import("../../protocol/index.ts");
  const { revokeApiKey, listApiKeys } = await import("../../protocol/io/index.ts");
  const doomed = await fx.key("acme");
  assert.equal((await fx.post("/v1/messages", simpleMessage(), doomed)).status, 202);
  assert.ok((await listApiKeys(fx.keys)).some((k) => k.keyId === keyIdOf(hashApiKey(doomed))));
  assert.ok(await revokeApiKey(fx.keys, keyIdOf(hashApiKey(doomed))));
  await waitFor("revocation to take effect", async () => ((await fx.post("/v1/messages", simpleMessage(), doomed)).status === 401 ? true : undefined), 5000, 100);
});

const bad: [string, Record<string, unknown>, string, string?][] = [
  ["bad address", simpleMessage({ to: "not-an-address" }), "to.0"],
  ["bad IDN domain", simpleMessage({ to: "a@xn--.de" }), "to.0"],
  ["CR/LF in an address", simpleMessage({ to: "a@example.com\r\nBcc: victim@example.com" }), "to.0", "header_injection"],
  ["CR/LF in the subject", simpleMessage({ subject: "Hi\r\nBcc: victim@example.com" }), "subject", "header_injection"],
  ["CR/LF in a header value", simpleMessage({ headers: { "X-Campaign": "a\nBcc: x@y.com" } }), "headers.X-Campaign", "header_injection"],
  ["a bad header name", simpleMessage({ headers: { "Bad Name": "v" } }), "headers.Bad Name"],
  ["CR/LF in a display name", simpleMessage({ from: { name: "A\r\nB", address: "a@acme.test" } }), "from.name", "header_injection"],
  ["NUL in a display name", simpleMessage({ from: "A\u0000B <news@acme.test>" }), "from", "control_character"],
  ["ESC in a display name", simpleMessage({ from: "A\u001bB <news@acme.test>" }), "from", "control_character"],
  ["a C1 control in the subject", simpleMessage({ subject: "Hi\u009b" }), "subject", "control_character"],
  ["a structural header", simpleMessage({ headers: { "content-type": "text/html" } }), "headers.content-type", "reserved_header"],
  ["a DKIM-Signature header", simpleMessage({ headers: { "DKIM-Signature": "v=1" } }), "headers.DKIM-Signature", "reserved_header"],
  ["unknown tier", simpleMessage({ tier: "urgent" }), "tier", "unknown_tier"],
  ["missing body", simpleMessage({ text: undefined }), "text"],
  ["missing from", simpleMessage({ from: undefined }), "from"],
  ["unknown field", simpleMessage({ priority: 1 }), "priority"],
  ["more than 50 recipients", simpleMessage({ to: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`) }), "to"],
  ["a bad attachment", simpleMessage({ attachments: [{ filename: "a.txt", contentBase64: "!!!" }] }), "attachments.0.contentBase64"],
];
for (const [what, body, field, code] of bad) {
  test(`400 naming the field for ${what}`, async () => {
    const res = await fx.post("/v1/messages", body, key);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    assert.ok(res.body.error.message.startsWith(field), res.body.error.message);
    if (code) assert.equal(res.body.error.code, code);
  });
}

test("400 for invalid JSON, an empty body and a non-object", async () => {
  const broken = await fx.post("/v1/messages", "{not json", key);
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error.code, "invalid_json");
  const empty = await fx.post("/v1/messages", "", key);
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error.code, "missing_body");
  const array = await fx.post("/v1/messages", "[1,2]", key);
  assert.equal(array.status, 400);
});

test("413 over the message size limit, 415 for non-JSON, 404 in the same error shape", async () => {
  const big = await fx.post("/v1/messages", simpleMessage({ text: "x".repeat(70 * 1024) }), key);
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, "payload_too_large");
  const text = await fx.post("/v1/messages", "hello", key, { "content-type": "text/plain" });
  assert.equal(text.status, 415);
  assert.equal(text.body.error.code, "unsupported_media_type");
  const form = await fx.post("/v1/messages", "a=b", key, { "content-type": "application/x-www-form-urlencoded" });
  assert.equal(form.status, 415);
  const missing = await fx.get("/v1/nothing-here", key);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "not_found");
  // The process survived all of that.
  assert.equal((await fx.post("/v1/messages", simpleMessage(), key)).status, 202);
});

test("429 with Retry-After for a key over its own rate, and the key recovers", async () => {
  const slow = await fx.key("acme", ["send"], 2);
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 5; i++) {
    const res = await fx.post("/v1/messages", simpleMessage(), slow);
    statuses.push(res.status);
    if (res.status === 429) {
      retryAfter = res.headers.get("retry-after");
      assert.equal(res.body.error.code, "rate_limited");
    }
  }
  assert.deepEqual(statuses.slice(0, 2), [202, 202]);
  assert.ok(statuses.includes(429), statuses.join(","));
  assert.ok(retryAfter !== null && Number(retryAfter) >= 1);
  await sleep(Number(retryAfter) * 1000);
  assert.equal((await fx.post("/v1/messages", simpleMessage(), slow)).status, 202);
});

test("healthz, readyz and docs (OpenAPI from the zod schemas) need no key", async () => {
  assert.equal((await fx.get("/healthz", undefined)).status, 200);
  assert.equal((await fx.get("/readyz", undefined)).status, 200);
  const page = await fx.get("/docs", undefined);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const docs = await fx.get("/docs/openapi.json", undefined);
  assert.equal(docs.status, 200);
  assert.equal(docs.body.openapi, "3.0.3");
  assert.ok(docs.body.components.schemas.SendRequest.properties.tier.enum.includes("bulk"));
  assert.ok(docs.body.paths["/v1/batches/{id}"]);
});

test("503 with Retry-After when MAIL_SEND is full; nothing is answered 202", async () => {
  const info = await fx.jsm.streams.info(STREAMS.send);
  await fx.jsm.streams.update(STREAMS.send, { max_msgs: info.state.messages });
  try {
    const res = await fx.post("/v1/messages", simpleMessage(), key);
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "stream_full");
    assert.ok(Number(res.headers.get("retry-after")) > 0);
  } finally {
    await fx.jsm.streams.update(STREAMS.send, { max_msgs: -1 });
  }
  assert.equal((await fx.post("/v1/messages", simpleMessage(), key)).status, 202);
});
