import { test } from "node:test";
import assert from "node:assert/strict";
import { envelopeOf } from "../../actors/smtp/envelope.ts";
import { recoverIdentity } from "../../protocol/index.ts";

test("envelope domains are A-labels; only a non-ASCII local part needs SMTPUTF8", () => {
  assert.deepEqual(envelopeOf("bounces@sender.test", "bob@例子.广告"), { ok: true, from: "bounces@sender.test", to: "bob@xn--fsqu00a.xn--4rr70v", needsSmtpUtf8: false });
  assert.deepEqual(envelopeOf("bounces@sender.test", "用户@例子.广告"), { ok: true, from: "bounces@sender.test", to: "用户@xn--fsqu00a.xn--4rr70v", needsSmtpUtf8: true });
  assert.deepEqual(envelopeOf("josé@bücher.test", "ann@example.com"), { ok: true, from: "josé@xn--bcher-kva.test", to: "ann@example.com", needsSmtpUtf8: true });
  assert.equal(envelopeOf("a@sender.test", "nobody@").ok, false);
});

test("tenant and id are recovered from an unreadable message when it names them", () => {
  const id = "01jabcdefghjkmnpqrstvwxyz0-7";
  assert.deepEqual(recoverIdentity(Buffer.from(`{"v":1,"id":"${id}","tenant":"acme","rcptTo":"a@b.test","tier":"bulk","replay":2`)), { id, tenant: "acme", rcptTo: "a@b.test", tier: "bulk" });
  assert.deepEqual(recoverIdentity(Buffer.from(JSON.stringify({ id, tenant: "acme", replay: 2, tier: "nope" }))), { id, tenant: "acme", replay: 2 });
  assert.deepEqual(recoverIdentity(Buffer.from(`{"id":"${id}","tenant":"a.b"}`)), { id }, "a tenant that is no subject token is not trusted");
  assert.deepEqual(recoverIdentity(Uint8Array.from([0xff, 0x00])), {});
});
