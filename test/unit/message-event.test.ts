import { test } from "node:test";
import assert from "node:assert/strict";
import { MailEvent, messageEvent, newId } from "../../protocol/index.ts";

const requestId = newId();
const base = { id: `${requestId}-0`, tenant: "acme", requestId, tier: "bulk" as const, rcptTo: "ann@example.com" };

test("an event about a message carries its batch, metadata and tags, and a valid event shape", () => {
  const e = messageEvent({ ...base, batchId: requestId, metadata: { campaign: "x" }, tags: ["news"] }, "dead_lettered", 1_000, 3);
  assert.deepEqual(
    { batchId: e.batchId, metadata: e.metadata, tags: e.tags, id: e.id, at: e.at },
    { batchId: requestId, metadata: { campaign: "x" }, tags: ["news"], id: `${requestId}-0.dead_lettered.3`, at: 1_000 },
  );
  assert.ok(MailEvent.safeParse(e).success);
});

test("a replayed message's events get ids of their own series; absent fields stay absent", () => {
  const e = messageEvent({ ...base, replay: 2 }, "queued", 5);
  assert.equal(e.id, `${requestId}-0.r2.queued.0`);
  assert.ok(!("batchId" in e) && !("metadata" in e) && !("tags" in e));
});
