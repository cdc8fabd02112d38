import { test } from "node:test";
import assert from "node:assert/strict";
import { classifyNetworkError, classifyReply, enhancedCodeOf } from "../../protocol/index.ts";

test("enhanced status codes are read from the reply text", () => {
  assert.equal(enhancedCodeOf("5.1.1 The email account does not exist"), "5.1.1");
  assert.equal(enhancedCodeOf("Try again later"), undefined);
});

test("basic codes decide the outcome", () => {
  assert.deepEqual(classifyReply({ code: 250, text: "2.0.0 OK" }), { outcome: "delivered", category: "delivered", throttle: false });
  assert.equal(classifyReply({ code: 421, text: "4.7.0 Try again later" }).throttle, true);
  assert.equal(classifyReply({ code: 450, text: "4.2.1 mailbox busy" }).outcome, "retry");
  assert.equal(classifyReply({ code: 550, text: "5.1.1 user unknown" }).category, "unknown_user");
  assert.equal(classifyReply({ code: 554, text: "5.7.1 rejected by policy" }).category, "policy_block");
});

test("connection failures are retried, a missing domain is not", () => {
  assert.equal(classifyNetworkError({ code: "ECONNREFUSED", message: "refused" }).outcome, "retry");
  assert.equal(classifyNetworkError({ code: "ENOTFOUND", message: "no such domain" }).outcome, "bounce");
});
