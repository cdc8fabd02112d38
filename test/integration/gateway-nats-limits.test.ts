import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Objm } from "@nats-io/obj";
import { OBJECT_STORES, STREAMS } from "../../protocol/index.ts";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

let fx: GatewayFixture;
let key: string;
let maxPayload: number;

before(async () => {
  fx = await startGatewayFixture({ SLUICE_MAX_MESSAGE_SIZE: "8MB", SLUICE_MAX_BATCH_SIZE: "8MB" });
  key = await fx.key("acme");
  maxPayload = fx.nc.info?.max_payload ?? 0;
  assert.ok(maxPayload > 0);
});
after(async () => {
  await fx?.close();
});

/** `n` entries of ~1 KB each: together more than one NATS message can carry. */
const kilobytes = (n: number, value = 1000): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "x".repeat(value)]));
const jobCount = async () => (await fx.jsm.streams.info(STREAMS.jobs)).state.messages;

test("a message too big for NATS is 413 message_too_large naming metadata, never a 503 to retry, and nothing is stored", async () => {
  const before = await fx.sendCount();
  const payloads = await new Objm(fx.nc).open(OBJECT_STORES.payloads);
  const stored = (await payloads.list()).length;
  const res = await fx.post("/v1/messages", simpleMessage({ to: ["a@example.com", "b@example.com"], metadata: kilobytes(Math.ceil(maxPayload / 1000) + 200) }), key);
  assert.equal(res.status, 413, JSON.stringify(res.body));
  assert.equal(res.body.error.code, "message_too_large");
  assert.equal(res.body.error.field, "metadata");
  assert.equal(res.headers.get("retry-after"), null);
  assert.equal(await fx.sendCount(), before);
  assert.equal((await payloads.list()).length, stored, "no payload written for a message that cannot be sent");
  const fits = await fx.post("/v1/messages", simpleMessage({ metadata: kilobytes(50) }), key);
  assert.equal(fits.status, 202, JSON.stringify(fits.body));
});

test("a batch whose one recipient's vars cannot fit a NATS message is 413 naming that recipient, before any job exists", async () => {
  const before = await jobCount();
  const recipients: { to: string; vars: Record<string, string> }[] = Array.from({ length: 30 }, (_, i) => ({ to: `r${i}@example.com`, vars: { name: `R${i}` } }));
  recipients[17] = { to: "r17@example.com", vars: kilobytes(Math.ceil(maxPayload / 10_000) + 5, 10_000) };
  const res = await fx.post("/v1/batches", { from: "news@acme.test", subject: "Hi {{name}}", text: "Hello {{name}}", recipients }, key);
  assert.equal(res.status, 413, JSON.stringify(res.body));
  assert.equal(res.body.error.code, "message_too_large");
  assert.equal(res.body.error.field, "recipients.17.vars");
  assert.equal(await jobCount(), before);
});

test("a batch whose metadata alone is too big for NATS is 413 too", async () => {
  const res = await fx.post("/v1/batches", { from: "news@acme.test", subject: "Hi", text: "Hello", metadata: kilobytes(Math.ceil(maxPayload / 1000) + 200), recipients: [{ to: "a@example.com" }] }, key);
  assert.equal(res.status, 413, JSON.stringify(res.body));
  assert.equal(res.body.error.code, "message_too_large");
  assert.equal(res.body.error.field, "metadata");
});

test("a payload is never inlined past max_payload, whatever SLUICE_INLINE_PAYLOAD_MAX says", async () => {
  const big = await startGatewayFixture({ SLUICE_MAX_MESSAGE_SIZE: "8MB", SLUICE_INLINE_PAYLOAD_MAX: "4MB" });
  try {
    const k = await big.key("acme");
    const res = await big.post("/v1/messages", simpleMessage({ text: "x".repeat(maxPayload + 1000) }), k);
    assert.equal(res.status, 202, JSON.stringify(res.body));
  } finally {
    await big.close();
  }
});
