import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

let fx: GatewayFixture;
let key: string;

before(async () => {
  fx = await startGatewayFixture({ SLUICE_MAX_MESSAGE_SIZE: "64KB" });
  key = await fx.key("acme");
});
after(async () => {
  await fx?.close();
});

const raw = async (bytes: Uint8Array<ArrayBuffer> | Buffer) => {
  const res = await fetch(`${fx.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: new Uint8Array(bytes),
  });
  return { status: res.status, body: (await res.json()) as { error: { code: string; message: string; field?: string } } };
};

const valid = JSON.stringify(simpleMessage());

test("valid JSON with __proto__ or constructor keys is refused as forbidden_key naming the key, not as invalid JSON", async () => {
  const cases: [string, string][] = [
    [`{"__proto__":{"admin":true},${valid.slice(1)}`, "__proto__"],
    [valid.replace(`"subject"`, `"headers":{"constructor":"x"},"subject"`), "headers.constructor"],
    [valid.replace(`"to":"ann@example.com"`, `"to":[{"address":"ann@example.com","__proto__":null}]`), "to.0.__proto__"],
    [`{"\\u005f_proto__":{},${valid.slice(1)}`, "__proto__"],
  ];
  for (const [body, field] of cases) {
    const res = await raw(Buffer.from(body));
    assert.equal(res.status, 400, body);
    assert.equal(res.body.error.code, "forbidden_key", JSON.stringify(res.body));
    assert.equal(res.body.error.field, field);
  }
});

test("a lone surrogate in a string or key is refused as invalid_unicode naming the field", async () => {
  for (const [body, field] of [
    [valid.replace(`"subject":"Hello"`, `"subject":"Hi \\ud800"`), "subject"],
    [valid.replace(`"text":"Hi there"`, `"text":"\\udfff there"`), "text"],
    [valid.replace(`"to":"ann@example.com"`, `"to":["ann@example.com","b\\udc00@example.com"]`), "to.1"],
  ] as const) {
    const res = await raw(Buffer.from(body));
    assert.equal(res.status, 400, body);
    assert.equal(res.body.error.code, "invalid_unicode", JSON.stringify(res.body));
    assert.equal(res.body.error.field, field);
  }
  const paired = await raw(Buffer.from(valid.replace(`"text":"Hi there"`, `"text":"\\ud83d\\ude00 there"`)));
  assert.equal(paired.status, 202, "a surrogate pair is fine");
  const backslash = await raw(Buffer.from(valid.replace(`"text":"Hi there"`, `"text":"C:\\\\ud800 is a path"`)));
  assert.equal(backslash.status, 202, "an escaped backslash before ud800 is text, not a surrogate");
});

test("bytes that are not UTF-8 are refused as invalid_utf8, never replaced with U+FFFD", async () => {
  for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80] /* an encoded surrogate */, [0xe2, 0x82]]) {
    const body = Buffer.concat([Buffer.from(valid.replace(`"Hi there"`, `"Hi `)), Buffer.from(bad), Buffer.from(`"`), Buffer.from(valid.slice(valid.indexOf(`"Hi there"`) + 10))]);
    const res = await raw(body);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "invalid_utf8", JSON.stringify(res.body));
  }
});

test("deep nesting is refused as too_deep; broken JSON stays invalid_json", async () => {
  const deep = await raw(Buffer.from(valid.replace(`"Hi there"`, "[".repeat(10_000) + "]".repeat(10_000))));
  assert.equal(deep.status, 400);
  assert.equal(deep.body.error.code, "too_deep");
  const broken = await raw(Buffer.from(`{"from":`));
  assert.equal(broken.status, 400);
  assert.equal(broken.body.error.code, "invalid_json");
  const empty = await raw(new Uint8Array(0));
  assert.equal(empty.status, 400);
  assert.equal(empty.body.error.code, "missing_body");
});
