import { test } from "node:test";
import assert from "node:assert/strict";
import {
  acceptedEvent,
  buildBatchDelivery,
  buildBatchJob,
  buildDeliveries,
  DeliveryMessage,
  envelopeRecipients,
  parseBatchRequest,
  parseSendRequest,
  partitionOf,
  payloadOfSend,
  subjects,
} from "../../protocol/index.ts";

const base = { from: "Acme <news@acme.test>", to: "ann@example.com", subject: "Hi", text: "Hello" };

test("a string recipient becomes a one-element list and the tier defaults to transactional", () => {
  const r = parseSendRequest(base);
  assert.ok(r.ok);
  assert.deepEqual(r.value.to, [{ address: "ann@example.com" }]);
  assert.deepEqual(r.value.from, { name: "Acme", address: "news@acme.test" });
  assert.equal(r.value.tier, "transactional");
});

test("a batch defaults to the bulk tier", () => {
  const r = parseBatchRequest({ from: "a@acme.test", subject: "s", html: "<p>{{name}}</p>", recipients: [{ to: "b@example.com", vars: { name: "B" } }] });
  assert.ok(r.ok);
  assert.equal(r.value.tier, "bulk");
});

test("errors name the field inside unions and arrays", () => {
  const r = parseSendRequest({ ...base, to: ["ann@example.com", "x@@y"] });
  assert.ok(!r.ok);
  assert.equal(r.error.field, "to.1");
  assert.match(r.error.message, /^to\.1 has an invalid local part/);
  const t = parseSendRequest({ ...base, tier: "urgent" });
  assert.ok(!t.ok);
  assert.equal(t.error.code, "unknown_tier");
  const m = parseSendRequest({ ...base, text: undefined });
  assert.ok(!m.ok);
  assert.match(m.error.message, /missing body/);
  const b = parseBatchRequest({ ...base, to: undefined, recipients: [{ to: "ok@example.com" }, { to: "bad\n@example.com" }] });
  assert.ok(!b.ok);
  assert.equal(b.error.field, "recipients.1.to");
  assert.equal(b.error.code, "header_injection");
  const notObject = parseSendRequest([1]);
  assert.ok(!notObject.ok);
  assert.match(notObject.error.message, /JSON object/);
});

test("envelope recipients are to, cc, bcc in order, each address once", () => {
  const r = parseSendRequest({ ...base, to: ["A@example.com", "b@example.com"], cc: "a@example.com", bcc: ["c@example.com", "B@example.com"] });
  assert.ok(r.ok);
  assert.deepEqual(envelopeRecipients(r.value), ["A@example.com", "b@example.com", "c@example.com"]);
});

test("bcc never reaches the shared payload", () => {
  const r = parseSendRequest({ ...base, bcc: "secret@example.com" });
  assert.ok(r.ok);
  assert.ok(!JSON.stringify(payloadOfSend(r.value)).includes("secret@"));
});

test("deliveries are deterministic, valid, and routed by the recipient's domain", () => {
  const r = parseSendRequest({ ...base, to: ["a@example.com", "b@bücher.de"], tier: "critical", tags: ["t"] });
  assert.ok(r.ok);
  const c = { requestId: "01jabcdefghjkmnpqrstvwxyz0", tenant: "acme", partitions: 8, now: 1_700_000_000_000 };
  const one = buildDeliveries(r.value, { ref: `sha256-${"a".repeat(64)}`, size: 10 }, c);
  const two = buildDeliveries(r.value, { ref: `sha256-${"a".repeat(64)}`, size: 10 }, c);
  assert.deepEqual(one, two);
  assert.deepEqual(one.map((o) => o.msgID), [`${c.requestId}-0`, `${c.requestId}-1`]);
  assert.equal(one[1]?.subject, subjects.send("critical", partitionOf("bücher.de", 8)));
  for (const o of one) assert.ok(DeliveryMessage.safeParse(o.message).success);
});

test("a batch job and its per-recipient messages", () => {
  const r = parseBatchRequest({ from: "a@acme.test", subject: "s", text: "{{x}}", recipients: [{ to: "b@example.com", vars: { x: "1" } }] });
  assert.ok(r.ok);
  const job = buildBatchJob(r.value, { ref: `sha256-${"b".repeat(64)}`, size: 5 }, `sha256-${"c".repeat(64)}`, { batchId: "01jabcdefghjkmnpqrstvwxyz0", tenant: "acme", requestId: "01jabcdefghjkmnpqrstvwxyz0", now: 1 });
  assert.equal(job.recipients.count, 1);
  const d = buildBatchDelivery(job, { to: "b@example.com", vars: { x: "1" } }, 0, 4, 2);
  assert.equal(d.msgID, "01jabcdefghjkmnpqrstvwxyz0-0");
  assert.equal(d.message.batchId, job.batchId);
  assert.deepEqual(d.message.vars, { x: "1" });
  assert.ok(DeliveryMessage.safeParse(d.message).success);
});

test("the accepted event is one per request with the recipient count", () => {
  const e = acceptedEvent({ tenant: "acme", requestId: "01jabcdefghjkmnpqrstvwxyz0", tier: "bulk", recipients: 3, now: 5 });
  assert.equal(e.messageId, "01jabcdefghjkmnpqrstvwxyz0-0");
  assert.equal(e.id, "01jabcdefghjkmnpqrstvwxyz0-0.accepted.0");
  assert.deepEqual(e.metadata, { recipients: "3" });
});

test("errors that teach: too many recipients points to /v1/batches whatever the field; a bad address is echoed, cut short", () => {
  const many = Array.from({ length: 51 }, (_, i) => `u${i}@example.com`);
  for (const field of ["to", "cc", "bcc"]) {
    const r = parseSendRequest({ from: "a@example.com", to: field === "to" ? many : "x@example.com", [field === "to" ? "cc" : field]: field === "to" ? undefined : many, subject: "s", text: "t" });
    assert.ok(!r.ok, field);
    assert.match(r.error.message, /POST \/v1\/batches/, field);
  }
  const split = parseSendRequest({ from: "a@example.com", to: many.slice(0, 30), cc: many.slice(30), subject: "s", text: "t" });
  assert.ok(!split.ok);
  assert.match(split.error.message, /POST \/v1\/batches/);

  const bad = parseSendRequest({ from: "a@example.com", to: ["ok@example.com", "ann@exa mple.com"], subject: "s", text: "t" });
  assert.ok(!bad.ok);
  assert.equal(bad.error.message, 'to.1 has an invalid domain: "ann@exa mple.com"');
  const long = parseBatchRequest({ from: "a@example.com", subject: "s", text: "t", recipients: [{ to: `${"x".repeat(200)}@bad` }] });
  assert.ok(!long.ok);
  assert.match(long.error.message, /^recipients\.0\.to .*: "x{80}…"$/);
});
