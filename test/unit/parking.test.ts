import { test } from "node:test";
import assert from "node:assert/strict";
import { destinationOfToken, destinationToken, parkedConsumerName, parseParkedSubject, subjects } from "../../protocol/index.ts";

test("a destination key becomes a subject token and reads back to the same key", () => {
  for (const key of ["example.com", "mx:google", "xn--bcher-kva.example", "a_b.example", "weird key*>.test", "ünïcode.test", "x".repeat(200) + ".test"]) {
    const token = destinationToken(key);
    assert.match(token, /^[a-z0-9:~_-]+$/, `token of ${key}: ${token}`);
    assert.equal(destinationOfToken(token), key);
  }
  assert.equal(destinationToken("example.com"), "example~com");
  assert.notEqual(destinationToken("a_b.c"), destinationToken("a.b.c"));
});

test("parked subjects name their partition and destination; consumer names are valid durable names", () => {
  const token = destinationToken("slow.example");
  assert.deepEqual(parseParkedSubject(subjects.parked(7, token)), { partition: 7, token });
  assert.equal(parseParkedSubject("mail.send.bulk.7"), undefined);
  assert.equal(parseParkedSubject("mail.parked.x.y"), undefined);
  for (const t of [token, destinationToken("y".repeat(250) + ".test")]) {
    const name = parkedConsumerName(3, t);
    assert.doesNotMatch(name, /[.*> \t]/);
    assert.ok(name.length <= 120, name);
  }
  assert.notEqual(parkedConsumerName(1, token), parkedConsumerName(2, token));
});
