import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DeliveryMessage, STREAMS } from "../../protocol/index.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

/** Stored templates through the real gateway and NATS: versions, preview, sends naming a template, missing variables. */
let fx: GatewayFixture;
let key: string;

before(async () => {
  fx = await startGatewayFixture();
  key = await fx.key("acme");
});

after(async () => {
  await fx?.close();
});

const call = async (method: string, path: string, body?: unknown, as = key) => {
  const res = await fetch(fx.url + path, {
    method,
    headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text === "" ? {} : JSON.parse(text)) as Record<string, any> };
};

/** The last message the gateway put on MAIL_SEND. */
async function lastSent(): Promise<DeliveryMessage> {
  const info = await fx.jsm.streams.info(STREAMS.send);
  const m = await fx.jsm.streams.getMessage(STREAMS.send, { seq: info.state.last_seq });
  assert.ok(m);
  return DeliveryMessage.parse(m.json());
}

test("templates are created, versioned by PUT, previewed, listed and deleted, per tenant", async () => {
  const created = await call("POST", "/v1/templates", { name: "welcome", subject: "Hi {{name}}", html: "<p>Hello {{name}} from {{company}}</p>" });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  assert.equal(created.body.version, 1);
  assert.deepEqual(created.body.variables, ["company", "name"]);

  const v2 = await call("PUT", `/v1/templates/${id}`, { name: "welcome", subject: "Welcome {{name}}", text: "Hello {{name}}" });
  assert.equal(v2.status, 200);
  assert.equal(v2.body.version, 2);
  assert.equal((await call("GET", `/v1/templates/${id}`)).body.subject, "Welcome {{name}}");
  assert.equal((await call("GET", `/v1/templates/${id}?version=1`)).body.subject, "Hi {{name}}");
  assert.equal((await call("GET", `/v1/templates/${id}?version=3`)).status, 404);

  const preview = await call("POST", `/v1/templates/${id}/render`, { version: 1, vars: { name: "<Ann>" } });
  assert.equal(preview.status, 200);
  assert.equal(preview.body.subject, "Hi <Ann>");
  assert.equal(preview.body.html, "<p>Hello &#60;Ann&#62; from </p>", "html-escaped, a missing variable is empty");
  assert.deepEqual(preview.body.missing, ["company"]);

  assert.deepEqual((await call("GET", "/v1/templates")).body.templates.map((t: { id: string; latest: number }) => [t.id, t.latest]), [[id, 2]]);
  const other = await fx.key("globex");
  assert.equal((await call("GET", `/v1/templates/${id}`, undefined, other)).status, 404, "another tenant's template is not there");
  assert.deepEqual((await call("GET", "/v1/templates", undefined, other)).body.templates, []);
  assert.equal((await call("DELETE", `/v1/templates/${id}`, undefined, other)).status, 404);

  assert.equal((await call("DELETE", `/v1/templates/${id}`)).status, 204);
  assert.equal((await call("GET", `/v1/templates/${id}`)).status, 404);
  assert.equal((await call("GET", `/v1/templates/${id}?version=1`)).status, 404);
});

test("a message naming a template (and a version) is sent with that version's content", async () => {
  const { body: t } = await call("POST", "/v1/templates", { name: "receipt", subject: "Receipt v1", text: "one" });
  await call("PUT", `/v1/templates/${t.id}`, { name: "receipt", subject: "Receipt v2", text: "two" });
  const latest = await call("POST", "/v1/messages", { from: "shop@acme.test", to: "ann@example.com", templateId: t.id });
  assert.equal(latest.status, 202, JSON.stringify(latest.body));
  const sent = await lastSent();
  assert.ok("inline" in sent.payload);
  assert.equal(sent.payload.inline.subject, "Receipt v2");
  assert.equal(sent.payload.inline.text, "two");

  assert.equal((await call("POST", "/v1/messages", { from: "shop@acme.test", to: "ann@example.com", templateId: t.id, templateVersion: 1 })).status, 202);
  const first = await lastSent();
  assert.ok("inline" in first.payload);
  assert.equal(first.payload.inline.subject, "Receipt v1");

  const both = await call("POST", "/v1/messages", { from: "shop@acme.test", to: "ann@example.com", templateId: t.id, subject: "x" });
  assert.equal(both.status, 400);
  assert.equal(both.body.error.field, "subject");
  const missing = await call("POST", "/v1/messages", { from: "shop@acme.test", to: "ann@example.com", templateId: "0".repeat(26) });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "template_not_found");
});

test("missing variables: empty and counted in the batch by default, a 400 naming them with strictVars", async () => {
  const { body: t } = await call("POST", "/v1/templates", { name: "news", subject: "Hi {{name}}", html: "<p>{{city}}</p>" });
  const recipients = [
    { to: "a@example.com", vars: { name: "A", city: "X" } },
    { to: "b@example.com", vars: { name: "B" } },
    { to: "c@example.com" },
  ];
  const lax = await call("POST", "/v1/batches", { from: "news@acme.test", templateId: t.id, recipients });
  assert.equal(lax.status, 202, JSON.stringify(lax.body));
  const status = await call("GET", `/v1/batches/${lax.body.batchId}`);
  assert.equal(status.body.missingVars, 2);

  const strict = await call("POST", "/v1/batches", { from: "news@acme.test", templateId: t.id, strictVars: true, recipients });
  assert.equal(strict.status, 400);
  assert.equal(strict.body.error.code, "missing_vars");
  assert.match(strict.body.error.message, /recipients\.1: city; recipients\.2: city, name/);
});
