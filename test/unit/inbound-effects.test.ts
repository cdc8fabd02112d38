import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import DKIM from "nodemailer/lib/dkim";
import { buildTemplate, feedbackIdOf, render, SIGNED_HEADER_FIELDS } from "../../actors/smtp/mime.ts";
import { envelopeSenderOf } from "../../actors/smtp/envelope.ts";
import { applyEvent, nextStatus, parseVerp, verpKey, type DeliveryMessage, type MailEvent } from "../../protocol/index.ts";

const msg = (tier: DeliveryMessage["tier"], o: Partial<DeliveryMessage> = {}): DeliveryMessage => ({
  v: 1,
  id: "01jabcdefghjkmnpqrstvwxyz0-7",
  requestId: "01jabcdefghjkmnpqrstvwxyz0",
  tenant: "acme",
  tier,
  mailFrom: "news@news.test",
  rcptTo: "ann@x.test",
  payload: { ref: `sha256-${"0".repeat(64)}`, size: 1 },
  createdAt: 1,
  attempts: [],
  ...o,
});

test("status: an asynchronous bounced after delivered makes the message bounced; soft bounces, complaints, auto-replies and unsubscribes keep delivered", () => {
  assert.equal(nextStatus("delivered", "bounced"), "bounced");
  for (const t of ["soft_bounced", "complained", "auto_replied", "unsubscribed"] as const) assert.equal(nextStatus("delivered", t), "delivered", t);
  const ev = (type: MailEvent["type"], at: number, extra: Partial<MailEvent> = {}): MailEvent => ({ v: 1, id: `x.${type}`, type, tenant: "acme", messageId: "01jabcdefghjkmnpqrstvwxyz0-7", at, ...extra });
  const delivered = applyEvent(undefined, ev("delivered", 1000, { attempt: 1 }));
  const complained = applyEvent(delivered.value, ev("complained", 2000, { async: true }));
  assert.equal(complained.status, "delivered");
  const bounced = applyEvent(complained.value, ev("bounced", 3000, { async: true, category: "unknown_user" }));
  assert.equal(bounced.status, "bounced");
  assert.ok(new TextDecoder().decode(bounced.value).includes('"async":true'));
});

test("the envelope sender is the VERP address with a bounce domain, the From address without", () => {
  const m = msg("bulk");
  assert.equal(envelopeSenderOf(m, undefined), "news@news.test");
  const verp = envelopeSenderOf(m, { key: verpKey("secret-0123456789abcdef"), domain: "bounces.news.test" });
  assert.equal(parseVerp(verp)?.recipientId, m.id);
  assert.equal(parseVerp(verp)?.tenant, "acme");
});

test("bulk mail gets the one-click pair, the mailto and Feedback-ID, all inside the DKIM signature; transactional mail none of them", async () => {
  const t = await buildTemplate({ from: { address: "news@news.test" }, subject: "Hello", text: "Body" });
  const per = { messageIdDomain: "news.test", now: 0, listUnsubscribe: "https://mail.test/v1/unsubscribe/tok", listUnsubscribeMailto: "mailto:b-x@bounces.test?subject=unsubscribe", feedbackId: feedbackIdOf(msg("bulk", { tags: ["spring sale"] })) };
  const bulk = render(t, msg("bulk"), per).toString();
  assert.match(bulk, /\r\nList-Unsubscribe: <https:\/\/mail\.test\/v1\/unsubscribe\/tok>, <mailto:b-x@bounces\.test\?subject=unsubscribe>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/);
  assert.match(bulk, /\r\nFeedback-ID: spring-sale:acme:sluice\r\n/);
  assert.equal(feedbackIdOf(msg("bulk", { batchId: "01jabcdefghjkmnpqrstvwxyz9" })), "01jabcdefghjkmnpqrstvwxyz9:acme:sluice");
  const tx = render(t, msg("transactional"), per).toString();
  assert.doesNotMatch(tx, /List-Unsubscribe|Feedback-ID/);

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  const signer = new DKIM({ domainName: "news.test", keySelector: "s1", privateKey, headerFieldNames: SIGNED_HEADER_FIELDS });
  const signed = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = signer.sign(Buffer.from(bulk));
    out.on("data", (c: Buffer) => chunks.push(c));
    out.on("end", () => resolve(Buffer.concat(chunks).toString()));
    out.on("error", reject);
  });
  const h = /DKIM-Signature:[\s\S]*?\bh=([^;]+);/.exec(signed)?.[1]?.replace(/\s+/g, "") ?? "";
  for (const name of ["List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID"]) assert.ok(h.toLowerCase().split(":").includes(name.toLowerCase()), `${name} in h=${h}`);
});
