import { test } from "node:test";
import assert from "node:assert/strict";
import { fnv1a32, normalizeDomain, partitionOf } from "../../protocol/index.ts";

// These values are the wire contract between gateways, producers and nodes of different
// versions. If this test fails, the hash changed and mixed-version clusters would
// disagree on where a domain's mail lives: do not "fix" the numbers, fix the code.
test("fnv1a32 matches the published FNV-1a test vectors", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
});

test("partition of a domain is pinned", () => {
  const pinned: [string, number, number][] = [
    ["gmail.com", 18, 6],
    ["example.com", 6, 2],
    ["yahoo.com", 12, 2],
    ["outlook.com", 15, 6],
    ["xn--bcher-kva.de", 13, 4],
  ];
  for (const [domain, p32, p7] of pinned) {
    assert.equal(partitionOf(domain, 32), p32, `${domain} mod 32`);
    assert.equal(partitionOf(domain, 7), p7, `${domain} mod 7`);
  }
  assert.equal(fnv1a32("gmail.com"), 1531976242);
});

test("case, trailing dot and IDN spelling do not change the partition", () => {
  const p = partitionOf("bücher.de", 32);
  assert.equal(partitionOf("xn--bcher-kva.de", 32), p);
  assert.equal(partitionOf("BÜCHER.DE.", 32), p);
  assert.equal(partitionOf("Example.COM", 32), partitionOf("example.com", 32));
});

test("normalizeDomain rejects what is not a domain", () => {
  for (const bad of ["", "a b.com", "x@y.com", "-bad.com", "a..com", "a".repeat(64) + ".com"]) {
    assert.equal(normalizeDomain(bad), undefined, JSON.stringify(bad));
  }
  assert.throws(() => partitionOf("not a domain", 32), /not a domain/);
  assert.throws(() => partitionOf("example.com", 0), /positive integer/);
});
