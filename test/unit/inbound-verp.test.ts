import { test } from "node:test";
import assert from "node:assert/strict";
import { attribute, parseInbound, parseVerp, unsubscribeKey, unsubscribeToken, verifyUnsubscribeToken, verifyVerp, verpAddress, verpKey, type ParsedInbound } from "../../protocol/index.ts";

const key = verpKey("secret-0123456789abcdef");
const rid = "01kbq2v8w4ab3e9x2m7pq0c5zd-3";
const verp = verpAddress(key, { tenant: "acme", recipientId: rid, rcptTo: "Ann@Example.com", domain: "bounces.test" });

test("a VERP address names recipient and tenant, in lower case, and fits a short local part", () => {
  assert.match(verp, /^b-01kbq2v8w4ab3e9x2m7pq0c5zd-3-acme-[0-9a-z]{16}@bounces\.test$/);
  assert.ok(verp.split("@")[0]!.length <= 64);
  assert.deepEqual({ ...parseVerp(verp), idMac: undefined, addressMac: undefined }, { recipientId: rid, tenant: "acme", domain: "bounces.test", idMac: undefined, addressMac: undefined });
  // A tenant with dashes and a recipient index parse unambiguously.
  const dashed = verpAddress(key, { tenant: "a-1-b", recipientId: "01kbq2v8w4ab3e9x2m7pq0c5zd-12", rcptTo: "x@y.test", domain: "b.test" });
  assert.equal(parseVerp(dashed)?.tenant, "a-1-b");
  assert.equal(parseVerp(dashed)?.recipientId, "01kbq2v8w4ab3e9x2m7pq0c5zd-12");
  assert.equal(parseVerp("news@acme.test"), undefined);
});

test("verification: the id mac proves tenant and message; the address mac proves only the address we sent to", () => {
  const ok = verifyVerp(key, verp.toUpperCase(), ["someone@else.test", "ANN@example.com"]);
  assert.deepEqual(ok, { ok: true, tenant: "acme", recipientId: rid, address: "ANN@example.com" });
  const unproven = verifyVerp(key, verp, ["bob@example.com"]);
  assert.equal(unproven.ok && unproven.address, undefined);
  assert.deepEqual(verifyVerp(verpKey("another-secret-0123456789"), verp, ["ann@example.com"]), { ok: false }, "another key");
  assert.deepEqual(verifyVerp(key, verp.replace("-acme-", "-evil-"), ["ann@example.com"]), { ok: false }, "another tenant");
  assert.deepEqual(verifyVerp(key, verp.replace(`${rid}-`, "01kbq2v8w4ab3e9x2m7pq0c5zd-4-"), ["ann@example.com"]), { ok: false }, "another message");
  const flipped = verp.replace(/-([0-9a-z])([0-9a-z]{15})@/, (_m, c: string, rest: string) => `-${c === "a" ? "b" : "a"}${rest}@`);
  assert.deepEqual(verifyVerp(key, flipped, ["ann@example.com"]), { ok: false }, "one character changed");
});

const parsed = (o: Partial<ParsedInbound["report"]> & { verp?: string[] }): ParsedInbound => ({
  report: { kind: o.kind ?? "dsn", recipients: o.recipients ?? [] },
  verpAddresses: o.verp ?? [],
});
const hard = { address: "ann@example.com", action: "failed", status: "5.1.1", diagnostic: "550 5.1.1 user unknown", outcome: "hard" as const, category: "unknown_user" };

test("attribution: a signed hard bounce suppresses its own address; forged, unsigned or another tenant's suppress nothing", () => {
  const a = attribute(parsed({ recipients: [hard], verp: [verp] }), key);
  assert.ok(a.attributed);
  assert.equal(a.event, "bounced");
  assert.equal(a.suppress, "hard_bounce");
  assert.equal(a.address, "ann@example.com");
  assert.equal(a.reply?.enhanced, "5.1.1");

  assert.deepEqual(attribute(parsed({ recipients: [hard] }), key), { attributed: false, why: "no_verp" });
  assert.deepEqual(attribute(parsed({ recipients: [hard], verp: [verp.replace("-acme-", "-other-")] }), key), { attributed: false, why: "forged" });
  const otherTenants = verpAddress(verpKey("their-secret-0123456789"), { tenant: "acme", recipientId: rid, rcptTo: "ann@example.com", domain: "bounces.test" });
  assert.deepEqual(attribute(parsed({ recipients: [hard], verp: [otherTenants] }), key), { attributed: false, why: "forged" });

  // A bounce for a message of ours that claims another address: reported, never suppressed.
  const other = attribute(parsed({ recipients: [{ ...hard, address: "boss@example.com" }], verp: [verp] }), key);
  assert.ok(other.attributed);
  assert.equal(other.suppress, undefined);
  assert.equal(other.address, undefined);
});

test("attribution: soft bounces, auto-replies and positive DSNs suppress nothing; a complaint suppresses; unsubscribe mail only from the address itself", () => {
  const soft = attribute(parsed({ recipients: [{ ...hard, outcome: "soft", category: "mailbox_full" }], verp: [verp] }), key);
  assert.ok(soft.attributed && soft.event === "soft_bounced" && soft.suppress === undefined);
  const auto = attribute(parsed({ kind: "autoreply", recipients: [{ address: "ann@example.com", outcome: "autoreply", category: "autoreply" }], verp: [verp] }), key);
  assert.ok(auto.attributed && auto.event === "auto_replied" && auto.suppress === undefined);
  assert.deepEqual(attribute(parsed({ recipients: [{ ...hard, outcome: "delivered", category: "delivered" }], verp: [verp] }), key), { attributed: false, why: "nothing_to_do" });
  const complaint = attribute(parsed({ kind: "arf", recipients: [{ address: "ann@example.com", outcome: "complaint", category: "abuse" }], verp: [verp] }), key);
  assert.ok(complaint.attributed && complaint.event === "complained" && complaint.suppress === "complaint");

  const unsub = attribute({ ...parsed({ kind: "unknown", verp: [verp] }), unsubscribeFrom: "ann@example.com" }, key);
  assert.ok(unsub.attributed && unsub.event === "unsubscribed" && unsub.suppress === "unsubscribe");
  assert.deepEqual(attribute({ ...parsed({ kind: "unknown", verp: [verp] }), unsubscribeFrom: "mallory@example.com" }, key), { attributed: false, why: "nothing_to_do" });
});

test("unsubscribe tokens: round trip; a changed, truncated or other-key token is refused", () => {
  const k = unsubscribeKey("secret-0123456789abcdef");
  const claim = { tenant: "acme", recipientId: rid, address: "ann@example.com" };
  const token = unsubscribeToken(k, claim);
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(verifyUnsubscribeToken(k, token), claim);
  assert.equal(verifyUnsubscribeToken(unsubscribeKey("other-secret-0123456789"), token), undefined);
  assert.equal(verifyUnsubscribeToken(k, token.slice(0, -1)), undefined);
  const [payload, mac] = token.split(".") as [string, string];
  const forged = Buffer.from(`acme\n${rid}\nboss@example.com`).toString("base64url");
  assert.equal(verifyUnsubscribeToken(k, `${forged}.${mac}`), undefined);
  assert.equal(verifyUnsubscribeToken(k, `${payload}.`), undefined);
  assert.equal(verifyUnsubscribeToken(k, "nonsense"), undefined);
  // The VERP key and the unsubscribe key differ: one secret, two purposes.
  assert.notDeepEqual(k, key.key);
});

test("parse: a person's 'unsubscribe' mail to the VERP address (the List-Unsubscribe mailto) is recognised with its sender; a bounce is not", async () => {
  const mail = `From: Ann <ann@example.com>\r\nTo: ${verp}\r\nSubject: unsubscribe\r\n\r\n\r\n`;
  const p = await parseInbound(mail, { envelopeTo: [verp] });
  assert.equal(p.report.kind, "unknown");
  assert.equal(p.unsubscribeFrom, "ann@example.com");
  assert.equal(p.report.recipientId, rid);
  const a = attribute(p, key);
  assert.ok(a.attributed && a.event === "unsubscribed" && a.address === "ann@example.com");
  const bounce = await parseInbound(`From: MAILER-DAEMON@mx.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nThis message was created automatically by mail delivery software.\r\n\r\n  ann@example.com\r\n    550 5.1.1 user unknown\r\n`, { envelopeTo: [verp] });
  assert.equal(bounce.unsubscribeFrom, undefined);
  assert.equal(bounce.report.recipients[0]?.outcome, "hard");
});

test("a tenant name too long for RFC 5321's 64-character local part is left out; the caller names it and the mac still proves it", () => {
  const tenant = "a-very-long-tenant-name-for-an-enterprise-customer";
  const long = verpAddress(key, { tenant, recipientId: "01kbq2v8w4ab3e9x2m7pq0c5zd-1234567", rcptTo: "Ann@Example.com", domain: "bounces.test" });
  const local = long.split("@")[0]!;
  assert.ok(local.length <= 64, `${local.length} characters`);
  assert.ok(!local.includes(tenant));
  assert.equal(parseVerp(long)?.tenant, undefined);
  assert.equal(parseVerp(long)?.recipientId, "01kbq2v8w4ab3e9x2m7pq0c5zd-1234567");
  // The longest tenant that still fits is kept whole.
  const fits = verpAddress(key, { tenant: "t".repeat(10), recipientId: "01kbq2v8w4ab3e9x2m7pq0c5zd-1234567", rcptTo: "a@b.test", domain: "b.test" });
  assert.equal(fits.split("@")[0]!.length, 64);
  assert.equal(parseVerp(fits)?.tenant, "t".repeat(10));

  assert.deepEqual(verifyVerp(key, long, ["ann@example.com"]), { ok: false }, "no tenant named: nothing can be proven");
  assert.deepEqual(verifyVerp(key, long, ["ann@example.com"], () => "another-tenant"), { ok: false }, "the wrong tenant fails the mac");
  assert.deepEqual(verifyVerp(key, long, ["ann@example.com"], () => tenant), { ok: true, tenant, recipientId: "01kbq2v8w4ab3e9x2m7pq0c5zd-1234567", address: "ann@example.com" });

  const a = attribute(parsed({ recipients: [hard], verp: [long] }), key, (id) => (id === "01kbq2v8w4ab3e9x2m7pq0c5zd-1234567" ? tenant : undefined));
  assert.ok(a.attributed && a.tenant === tenant && a.suppress === "hard_bounce");
});
