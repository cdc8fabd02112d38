import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Kvm } from "@nats-io/kv";
import { DeliveryMessage, KV_BUCKETS, newId, STREAMS } from "../../protocol/index.ts";
import { createProducer } from "../../protocol/io/index.ts";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

let fx: GatewayFixture;
let key: string;

before(async () => {
  fx = await startGatewayFixture();
  key = await fx.key("acme");
});
after(async () => {
  await fx?.close();
});

test("the same Idempotency-Key and body returns the first answer and sends nothing again", async () => {
  const body = simpleMessage({ to: ["a@example.com", "b@example.com"] });
  const first = await fx.post("/v1/messages", body, key, { "idempotency-key": "order-1" });
  assert.equal(first.status, 202);
  const count = await fx.sendCount();
  const again = await fx.post("/v1/messages", { ...body }, key, { "idempotency-key": "order-1" });
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.equal(await fx.sendCount(), count, "nothing published again");
});

test("the same key with another body is a 409", async () => {
  assert.equal((await fx.post("/v1/messages", simpleMessage(), key, { "idempotency-key": "order-2" })).status, 202);
  const other = await fx.post("/v1/messages", simpleMessage({ subject: "Different" }), key, { "idempotency-key": "order-2" });
  assert.equal(other.status, 409);
  assert.equal(other.body.error.code, "idempotency_conflict");
});

test("keys are per tenant: another tenant may use the same key", async () => {
  const globex = await fx.key("globex");
  assert.equal((await fx.post("/v1/messages", simpleMessage(), key, { "idempotency-key": "shared" })).status, 202);
  const res = await fx.post("/v1/messages", simpleMessage({ subject: "theirs" }), globex, { "idempotency-key": "shared" });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("idempotent-replayed"), null);
});

test("concurrent duplicates publish once and all get the same answer", async () => {
  const body = simpleMessage({ to: ["c1@example.com", "c2@example.com", "c3@example.com"] });
  const count = await fx.sendCount();
  const answers = await Promise.all(Array.from({ length: 10 }, () => fx.post("/v1/messages", body, key, { "idempotency-key": "burst" })));
  for (const a of answers) assert.equal(a.status, 202, JSON.stringify(a.body));
  const ids = new Set(answers.map((a) => a.body.id));
  assert.equal(ids.size, 1, "one request id for all");
  assert.equal(await fx.sendCount(), count + 3);
});

test("a request that failed part-way is retried under the same ids: JetStream stores nothing twice", async () => {
  const body = simpleMessage({ to: ["p1@example.com", "p2@example.com", "p3@example.com"] });
  const stored = await fx.sendCount();
  // Room for exactly one more message: the first recipient is stored, the others refused.
  await fx.jsm.streams.update(STREAMS.send, { max_msgs: stored + 1 });
  try {
    const first = await fx.post("/v1/messages", body, key, { "idempotency-key": "partial" });
    assert.equal(first.status, 503, JSON.stringify(first.body));
    assert.equal(await fx.sendCount(), stored + 1, "one recipient made it before the stream filled");
  } finally {
    await fx.jsm.streams.update(STREAMS.send, { max_msgs: -1 });
  }
  const retry = await fx.post("/v1/messages", body, key, { "idempotency-key": "partial" });
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  assert.equal(await fx.sendCount(), stored + 3, "three recipients, each stored once");
  const again = await fx.post("/v1/messages", body, key, { "idempotency-key": "partial" });
  assert.deepEqual(again.body, retry.body);
});

test("a claim this gateway left pending for a request no longer running (its 'failed' write lost) is taken over at once", async () => {
  const body = simpleMessage({ to: ["q1@example.com"] });
  const stored = await fx.sendCount();
  await fx.jsm.streams.update(STREAMS.send, { max_msgs: stored });
  try {
    assert.equal((await fx.post("/v1/messages", body, key, { "idempotency-key": "lost-write" })).status, 503);
  } finally {
    await fx.jsm.streams.update(STREAMS.send, { max_msgs: -1 });
  }
  // Put the claim back to "pending", as when the update to "failed" is lost in a NATS leader change.
  const kv = await new Kvm(fx.nc).open(KV_BUCKETS.idempotency);
  const kvKey = `acme.messages.${createHash("sha256").update("lost-write").digest("hex")}`;
  const entry = await kv.get(kvKey);
  assert.ok(entry);
  const claim = entry.json<{ state: string; at: number }>();
  assert.equal(claim.state, "failed");
  await kv.put(kvKey, JSON.stringify({ ...claim, state: "pending", at: Date.now() }));

  // Without the takeover this waits WAIT_MS and answers 409 idempotency_in_progress.
  const retry = await fx.post("/v1/messages", body, key, { "idempotency-key": "lost-write" });
  assert.equal(retry.status, 202, JSON.stringify(retry.body));
  assert.equal(await fx.sendCount(), stored + 1);
});

test("an invalid body with a key is a 400 and does not burn the key", async () => {
  const bad = await fx.post("/v1/messages", simpleMessage({ tier: "nope" }), key, { "idempotency-key": "order-3" });
  assert.equal(bad.status, 400);
  assert.equal((await fx.post("/v1/messages", simpleMessage(), key, { "idempotency-key": "order-3" })).status, 202);
});

test("batches honour the key too", async () => {
  const body = { from: "a@acme.test", subject: "s", text: "t", recipients: [{ to: "x@example.com" }, { to: "y@example.com" }] };
  const first = await fx.post("/v1/batches", body, key, { "idempotency-key": "batch-1" });
  assert.equal(first.status, 202);
  const jobs = (await fx.jsm.streams.info(STREAMS.jobs)).state.messages;
  const again = await fx.post("/v1/batches", body, key, { "idempotency-key": "batch-1" });
  assert.deepEqual(again.body, first.body);
  assert.equal((await fx.jsm.streams.info(STREAMS.jobs)).state.messages, jobs);
});

test("the gateway and the SDK put identical messages on MAIL_SEND apart from ids and timestamps", async () => {
  const request = simpleMessage({ to: ["Ann <ann@example.com>", "bob@bücher.de"], cc: "cy@example.org", tier: "critical", tags: ["welcome"], metadata: { user: "42" }, headers: { "X-Campaign": "c1" } });
  const readLast = async (n: number) => {
    const last = (await fx.jsm.streams.info(STREAMS.send)).state.last_seq;
    const out: { subject: string; message: DeliveryMessage }[] = [];
    for (let seq = last - n + 1; seq <= last; seq++) {
      const m = await fx.jsm.streams.getMessage(STREAMS.send, { seq });
      assert.ok(m);
      out.push({ subject: m.subject, message: m.json<DeliveryMessage>() });
    }
    return out.sort((a, b) => a.message.id.localeCompare(b.message.id));
  };
  const normalise = (xs: { subject: string; message: DeliveryMessage }[]) =>
    xs.map(({ subject, message }) => ({ subject, message: { ...message, id: message.id.split("-")[1], requestId: "-", createdAt: 0 } }));

  const viaHttp = await fx.post("/v1/messages", request, key);
  assert.equal(viaHttp.status, 202);
  const http = await readLast(3);

  const producer = await createProducer(fx.nc, { tenant: "acme", partitions: fx.config.partitions, inlinePayloadMaxBytes: fx.config.inlinePayloadMaxBytes });
  const viaSdk = await producer.send(request);
  assert.equal(viaSdk.recipients.length, 3);
  const sdk = await readLast(3);
  assert.deepEqual(normalise(sdk), normalise(http));
  assert.deepEqual(Object.keys(viaSdk).sort(), Object.keys(viaHttp.body).sort());

  // …and they refuse the same bad input with the same error.
  const bad = { ...request, subject: "x\r\nBcc: y@example.com" };
  const httpBad = await fx.post("/v1/messages", bad, key);
  await assert.rejects(producer.send(bad), (e: Error & { code?: string; field?: string }) => {
    assert.equal(e.code, httpBad.body.error.code);
    assert.equal(e.field, httpBad.body.error.field);
    assert.equal(e.message, httpBad.body.error.message);
    return true;
  });
});

test("the SDK's requestId is its Idempotency-Key: a retried send stores nothing twice", async () => {
  const producer = await createProducer(fx.nc, { tenant: "acme", partitions: fx.config.partitions, inlinePayloadMaxBytes: fx.config.inlinePayloadMaxBytes });
  const request = simpleMessage({ to: ["r1@example.com", "r2@example.com"] });
  const requestId = newId();
  const count = await fx.sendCount();
  const first = await producer.send(request, { requestId });
  const retry = await producer.send(request, { requestId });
  assert.equal(first.id, requestId);
  assert.deepEqual(retry, first);
  assert.equal(await fx.sendCount(), count + 2, "two recipients, each stored once");
  await assert.rejects(producer.send(request, { requestId: "order-1" }), (e: Error & { code?: string; field?: string }) => e.code === "invalid_request_id" && e.field === "requestId");
});
