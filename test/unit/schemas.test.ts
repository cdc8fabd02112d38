import { test } from "node:test";
import assert from "node:assert/strict";
import { check, decode, DeliveryMessage, EmailAddress, encode, Mailbox, newId, Payload, recipientId } from "../../protocol/index.ts";

function validMessage(): Record<string, unknown> {
  const requestId = newId();
  return {
    v: 1,
    id: recipientId(requestId, 0),
    requestId,
    tenant: "acme",
    tier: "transactional",
    mailFrom: "news@acme.test",
    rcptTo: "ann@example.com",
    payload: { inline: { from: "Acme <news@acme.test>", subject: "Hi {{name}}", text: "Hello {{name}}" } },
    vars: { name: "Ann" },
    createdAt: Date.now(),
  };
}

test("a valid delivery message parses, with an empty attempt history by default", () => {
  const r = check(DeliveryMessage, validMessage(), "delivery message");
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  assert.deepEqual(r.value.attempts, []);
  assert.deepEqual(r.value.payload, { inline: { from: { name: "Acme", address: "news@acme.test" }, subject: "Hi {{name}}", text: "Hello {{name}}" } });
});

test("a bad field is named with the reason", () => {
  const bad = { ...validMessage(), tier: "urgent" };
  const r = check(DeliveryMessage, bad, "delivery message");
  assert.ok(!r.ok);
  assert.equal(r.error.field, "tier");
  assert.equal(r.error.kind, "validation");
  assert.match(r.error.message, /delivery message: tier/);
});

test("unknown fields are rejected, not silently dropped", () => {
  const r = check(DeliveryMessage, { ...validMessage(), priority: 1 }, "delivery message");
  assert.ok(!r.ok);
  assert.match(r.error.message, /priority/);
});

test("bytes that are not JSON decode to a clear error and never throw", () => {
  const r = decode(DeliveryMessage, new TextEncoder().encode("{nope"), "delivery message");
  assert.ok(!r.ok);
  assert.equal(r.error.code, "invalid_json");
  const ok = decode(DeliveryMessage, encode(validMessage()), "delivery message");
  assert.ok(ok.ok);
});

test("addresses: IDN domains are accepted, junk is refused", () => {
  for (const good of ["a@example.com", "first.last+tag@sub.example.co.uk", "user@bücher.de", "ünï@example.com"]) {
    assert.ok(EmailAddress.safeParse(good).success, good);
  }
  for (const bad of ["", "plain", "@example.com", "a@", "a@localhost", "a b@example.com", "a..b@example.com", "a@exa mple.com", "<a@example.com>"]) {
    assert.ok(!EmailAddress.safeParse(bad).success, bad);
  }
});

test("header injection through CR/LF is refused everywhere", () => {
  assert.ok(!EmailAddress.safeParse("a@example.com\r\nBcc: victim@example.com").success);
  assert.ok(!Mailbox.safeParse("Evil\r\nBcc: x@y.com <a@example.com>").success);
  assert.ok(!Mailbox.safeParse({ name: "Evil\nBcc: x@y.com", address: "a@example.com" }).success);
  const base = { from: "a@example.com", subject: "ok" };
  assert.ok(Payload.safeParse(base).success);
  assert.ok(!Payload.safeParse({ ...base, subject: "hi\r\nBcc: x@y.com" }).success);
  assert.ok(!Payload.safeParse({ ...base, headers: { "X-Tag": "a\nBcc: x@y.com" } }).success);
  assert.ok(!Payload.safeParse({ ...base, headers: { "X-Tag\r\nBcc": "v" } }).success);
});

test("mailbox strings normalise to the object form", () => {
  assert.deepEqual(Mailbox.parse("Ann Lee <ann@example.com>"), { name: "Ann Lee", address: "ann@example.com" });
  assert.deepEqual(Mailbox.parse('"Lee, Ann" <ann@example.com>'), { name: "Lee, Ann", address: "ann@example.com" });
  assert.deepEqual(Mailbox.parse("ann@example.com"), { address: "ann@example.com" });
});
