import { test } from "node:test";
import assert from "node:assert/strict";
import { buildTemplate, listUnsubscribeFor, personalise, render, usesVariables } from "../../actors/smtp/mime.ts";
import type { DeliveryMessage, Payload } from "../../protocol/index.ts";

const msg = (tier: DeliveryMessage["tier"]): DeliveryMessage => ({
  v: 1,
  id: "01jabcdefghjkmnpqrstvwxyz0-7",
  requestId: "01jabcdefghjkmnpqrstvwxyz0",
  tenant: "acme",
  tier,
  mailFrom: "bounce@news.test",
  rcptTo: "ann@x.test",
  payload: { ref: `sha256-${"0".repeat(64)}`, size: 1 },
  createdAt: 1,
  attempts: [],
});

test("variables are filled per recipient; HTML is escaped and the subject cannot grow a header", () => {
  const p: Payload = { from: { address: "a@news.test" }, subject: "Hi {{ name }}", text: "Dear {{name}}, code {{code}}", html: "<p>{{name}}</p>" };
  assert.equal(usesVariables(p), true);
  assert.equal(usesVariables({ ...p, subject: "x", text: "y", html: "z" }), false);
  const out = personalise(p, { name: "<b>Ann</b>\r\nBcc: evil@x.test" });
  assert.equal(out.subject, "Hi <b>Ann</b> Bcc: evil@x.test");
  assert.equal(out.text, "Dear <b>Ann</b>\r\nBcc: evil@x.test, code ");
  assert.equal(out.html, "<p>&#60;b&#62;Ann&#60;/b&#62;\r\nBcc: evil@x.test</p>");
});

test("the template is built once; each recipient gets its own Message-ID and Date, bulk a List-Unsubscribe", async () => {
  const t = await buildTemplate({ from: { name: "News", address: "a@news.test" }, subject: "Hello", text: "Body" });
  assert.doesNotMatch(t.headers, /Message-ID|^Date/im);
  const a = render(t, msg("transactional"), { messageIdDomain: "news.test", listUnsubscribe: undefined, now: 0 }).toString();
  const b = render(t, msg("bulk"), { messageIdDomain: "news.test", listUnsubscribe: listUnsubscribeFor("https://u.test/{{id}}", msg("bulk")), now: 0 }).toString();
  assert.match(a, /^Message-ID: <01jabcdefghjkmnpqrstvwxyz0-7\.[0-9a-z]{9,}@news\.test>\r\nDate: Thu, 01 Jan 1970 00:00:00 \+0000\r\n/);
  assert.match(a, /\r\nSubject: Hello\r\n/);
  assert.match(a, /\r\n\r\nBody/);
  assert.doesNotMatch(a, /List-Unsubscribe/);
  assert.match(b, /List-Unsubscribe: <https:\/\/u\.test\/01jabcdefghjkmnpqrstvwxyz0-7>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n/);
  // No template, no header: the envelope sender is a bounce address, not an unsubscribe handler.
  assert.equal(listUnsubscribeFor(undefined, msg("bulk")), undefined);
  assert.match(a, /\r\nTo: ann@x\.test\r\n/, "a payload without To gets the recipient's");
});

