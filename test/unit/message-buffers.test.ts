import { test } from "node:test";
import assert from "node:assert/strict";
import { freeBuffers, MAX_FREE_BYTES, messageBuffer, recycle } from "../../actors/smtp/message-buffers.ts";

test("a message buffer given back is lent again for a message of a like size, and only once", () => {
  const a = messageBuffer(100_000);
  assert.equal(a.length, 100_000);
  const view = a.subarray(900); // render hands the SMTP layer a view of it
  recycle(view);
  recycle(view); // twice: still one entry
  const b = messageBuffer(100_050);
  assert.equal(b.buffer, a.buffer, "the same memory serves the next message");
  const c = messageBuffer(100_050);
  assert.notEqual(c.buffer, a.buffer, "memory lent out is not lent twice");
});

test("a free buffer far bigger than asked is not lent for a small message; buffers not lent are ignored", () => {
  const big = messageBuffer(1_000_000);
  recycle(big);
  const small = messageBuffer(5_000);
  assert.notEqual(small.buffer, big.buffer);
  const before = freeBuffers();
  recycle(Buffer.alloc(50_000)); // not a message buffer
  assert.deepEqual(freeBuffers(), before);
  assert.equal(messageBuffer(999_000).buffer, big.buffer);
});

test("the free list keeps at most MAX_FREE_BYTES", () => {
  const lent = Array.from({ length: Math.ceil(MAX_FREE_BYTES / 1_000_000) + 4 }, () => messageBuffer(1_000_000));
  for (const b of lent) recycle(b);
  assert.ok(freeBuffers().bytes <= MAX_FREE_BYTES, JSON.stringify(freeBuffers()));
  assert.ok(freeBuffers().count > 0);
});
