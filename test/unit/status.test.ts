import { test } from "node:test";
import assert from "node:assert/strict";
import { applyEvent, decode, nextStatus, requestOf, statusKey, type MailEvent } from "../../protocol/index.ts";
import { z } from "zod";

const id = "01jdx0aaaaaaaaaaaaaaaaaaaa-4";
const ev = (type: MailEvent["type"], at: number, attempt = 0): MailEvent => ({ v: 1, id: `${id}.${type}.${attempt}`, type, tenant: "acme", messageId: id, at, attempt });
const Record = z.object({ status: z.string(), events: z.array(z.object({ type: z.string(), at: z.number() }).passthrough()) });
const read = (v: Uint8Array) => {
  const d = decode(Record, v, "record");
  assert.ok(d.ok);
  return d.value;
};

test("events applied out of order still give the status of the latest one", () => {
  const a = applyEvent(undefined, ev("delivered", 30, 2));
  const b = applyEvent(a.value, ev("deferred", 20, 1));
  const r = read(b.value);
  assert.equal(r.status, "delivered");
  assert.deepEqual(r.events.map((e) => e.type), ["deferred", "delivered"]);
});

test("dead_lettered after a bounce keeps bounced; alone it is dead_lettered", () => {
  assert.equal(nextStatus("bounced", "dead_lettered"), "bounced");
  assert.equal(nextStatus("failed", "dead_lettered"), "failed");
  assert.equal(nextStatus("deferred", "dead_lettered"), "dead_lettered");
  const same = applyEvent(applyEvent(undefined, ev("dead_lettered", 10, 1)).value, ev("bounced", 10, 1));
  assert.equal(read(same.value).status, "bounced", "same millisecond: lifecycle order");
});

test("an accepted event is filed under its request with the recipient count", () => {
  const e: MailEvent = { ...ev("accepted", 1), messageId: "01jdx0aaaaaaaaaaaaaaaaaaaa-0", requestId: "01jdx0aaaaaaaaaaaaaaaaaaaa", metadata: { recipients: "5" } };
  const w = applyEvent(undefined, e);
  assert.equal(w.key, statusKey("acme", "01jdx0aaaaaaaaaaaaaaaaaaaa"));
  assert.equal((JSON.parse(Buffer.from(w.value).toString()) as { recipients: number }).recipients, 5);
  assert.deepEqual(requestOf(id), { requestId: "01jdx0aaaaaaaaaaaaaaaaaaaa", index: 4 });
  assert.equal(requestOf("nope"), undefined);
});

test("a record stays small: 10 events at most, reply text cut", () => {
  let v: Uint8Array | undefined;
  for (let i = 1; i <= 30; i++) v = applyEvent(v, { ...ev("deferred", i, i), reply: { code: 451, text: "x".repeat(2000) } }).value;
  assert.ok(v);
  const r = read(v);
  assert.equal(r.events.length, 10);
  assert.ok(v.length < 2500, `${v.length} bytes`);
});
