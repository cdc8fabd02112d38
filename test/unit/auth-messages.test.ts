import assert from "node:assert/strict";
import { test } from "node:test";
import { whyNoKey } from "../../gateway/auth.ts";

test("a 401 says what is wrong with the Authorization header and how to send the key", () => {
  assert.match(whyNoKey(undefined), /^missing API key: send Authorization: Bearer <key>$/);
  assert.match(whyNoKey("sk_live_abc123"), /no "Bearer " prefix.*not the bare key/);
  assert.match(whyNoKey("Bearer "), /says Bearer but carries no key/);
  assert.match(whyNoKey("Basic dXNlcjpwYXNz"), /scheme is "Basic"; API keys go as Authorization: Bearer <key>/);
});
