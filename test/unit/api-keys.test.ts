import { test } from "node:test";
import assert from "node:assert/strict";
import { generateApiKey, hashApiKey, keyIdOf, parseScopes } from "../../protocol/index.ts";

test("keys are random, prefixed, and only their hash identifies them", () => {
  const a = generateApiKey();
  const b = generateApiKey();
  assert.match(a, /^sk_[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, b);
  assert.match(hashApiKey(a), /^[0-9a-f]{64}$/);
  assert.equal(keyIdOf(hashApiKey(a)).length, 12);
  assert.ok(!hashApiKey(a).includes(a.slice(3)));
});

test("scopes parse from a comma list and an unknown one is named", () => {
  assert.deepEqual(parseScopes("send, read,send"), ["send", "read"]);
  assert.throws(() => parseScopes("send,write"), /unknown scope "write"/);
  assert.throws(() => parseScopes(""), /at least one scope/);
});
