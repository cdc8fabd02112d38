import { test } from "node:test";
import assert from "node:assert/strict";
import { isPrivateAddress, newWebhookSecret, signWebhook, verifyWebhook } from "../../protocol/index.ts";
import { publicOnlyLookup } from "../../protocol/io/index.ts";

const secret = newWebhookSecret();
const body = JSON.stringify({ id: "01jdx0000000000000000000000-0.delivered.1", type: "delivered" });
const now = 1_764_000_000_000;

test("a signed body verifies with its secret", () => {
  const header = signWebhook(secret, body, now);
  assert.match(header, /^t=1764000000,v1=[0-9a-f]{64}$/);
  assert.deepEqual(verifyWebhook(secret, body, header, { nowMs: now + 10_000 }), { ok: true, timestamp: 1_764_000_000 });
  assert.deepEqual(verifyWebhook(secret, Buffer.from(body), header, { nowMs: now }), { ok: true, timestamp: 1_764_000_000 });
});

test("a tampered body, another secret or a changed timestamp fails", () => {
  const header = signWebhook(secret, body, now);
  assert.deepEqual(verifyWebhook(secret, body.replace("delivered", "bounced"), header, { nowMs: now }), { ok: false, reason: "mismatch" });
  assert.deepEqual(verifyWebhook(newWebhookSecret(), body, header, { nowMs: now }), { ok: false, reason: "mismatch" });
  const shifted = header.replace("t=1764000000", "t=1764000001");
  assert.deepEqual(verifyWebhook(secret, body, shifted, { nowMs: now }), { ok: false, reason: "mismatch" });
});

test("an old signature is refused outside the tolerance (replay protection)", () => {
  const header = signWebhook(secret, body, now);
  assert.deepEqual(verifyWebhook(secret, body, header, { nowMs: now + 301_000 }), { ok: false, reason: "expired" });
  assert.equal(verifyWebhook(secret, body, header, { nowMs: now + 301_000, toleranceS: 600 }).ok, true);
  assert.deepEqual(verifyWebhook(secret, body, header, { nowMs: now - 301_000 }), { ok: false, reason: "expired" });
});

test("malformed headers are refused, and any of several v1 values may match (secret rotation)", () => {
  for (const bad of [undefined, "", "t=abc,v1=00", "v1=" + "0".repeat(64), "t=1764000000", "t=1764000000,v1=xyz"]) {
    assert.deepEqual(verifyWebhook(secret, body, bad, { nowMs: now }), { ok: false, reason: "malformed" }, String(bad));
  }
  const old = signWebhook("whsec_old-secret-old-secret", body, now).split(",")[1];
  const rotated = `${signWebhook(secret, body, now)},${old}`;
  assert.equal(verifyWebhook(secret, body, rotated, { nowMs: now }).ok, true);
  assert.equal(verifyWebhook("whsec_old-secret-old-secret", body, rotated, { nowMs: now }).ok, true);
});

test("private, loopback, link-local and ULA addresses are recognised; public ones are not", () => {
  const privateOnes = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fd00::1", "fc12:3456::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::10.0.0.1", "[::1]", "255.255.255.255", "not-an-ip"];
  const publicOnes = ["93.184.215.14", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"];
  for (const a of privateOnes) assert.equal(isPrivateAddress(a), true, a);
  for (const a of publicOnes) assert.equal(isPrivateAddress(a), false, a);
});

test("the connect-time lookup refuses a host that resolves to a private address (DNS rebinding)", async () => {
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => publicOnlyLookup("localhost", {}, (e) => resolve(e)));
  assert.equal(err?.code, "EPRIVATEADDRESS");
  assert.match(err?.message ?? "", /private address/);
});
