import { test } from "node:test";
import assert from "node:assert/strict";
import { buildBatchDelivery, buildBatchJob, checkBatchFits, encode, NATS_HEADER_ROOM, newId, parseBatchRequest, isSluiceError } from "../../protocol/index.ts";

test("checkBatchFits measures a recipient's message to the byte, naming the first one that does not fit", () => {
  const parsed = parseBatchRequest({
    from: "news@acme.test",
    subject: "Hi {{name}}",
    text: "Hello",
    metadata: { campaign: "c1" },
    recipients: [{ to: "a@example.com" }, { to: "bü@bücher.de", vars: { name: "Ann \"é\" \u2028", city: "日本" } }, { to: "c@example.com", vars: { name: "x".repeat(500) } }],
  });
  assert.ok(parsed.ok);
  const ref = `sha256-${"0".repeat(64)}`;
  const job = buildBatchJob(parsed.value, { ref, size: 10 }, ref, { batchId: newId(), tenant: "acme", requestId: "x", now: Date.now() });
  const sizes = parsed.value.recipients.map((r, i) => encode(buildBatchDelivery(job, r, i, 4, job.createdAt, () => "").message).length);
  const largest = Math.max(...sizes);
  // Fits exactly at the largest message; one byte less and recipient 2 (the largest) is named.
  checkBatchFits(parsed.value, job, largest + NATS_HEADER_ROOM);
  try {
    checkBatchFits(parsed.value, job, largest + NATS_HEADER_ROOM - 1);
    assert.fail("expected message_too_large");
  } catch (e) {
    assert.ok(isSluiceError(e));
    assert.equal(e.code, "message_too_large");
    assert.equal(e.field, "recipients.2.vars");
  }
});
