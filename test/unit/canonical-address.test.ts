import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalAddress, canonicalDomain, envelopeRecipients, matchingAddress, parseSendRequest, suppressionKey, suppressionKeys } from "../../protocol/index.ts";

test("rewritten spellings of one domain have one canonical form", () => {
  const table: [string, string][] = [
    ["example.com", "example.com"],
    ["EXAMPLE.Com", "example.com"],
    ["example.com.", "example.com"],
    ["ｅｘａｍｐｌｅ.com", "example.com"],
    ["ＥＸＡＭＰＬＥ．ｃｏｍ", "example.com"],
    ["example.com。", "example.com"],
    ["bücher.de", "xn--bcher-kva.de"],
    ["BÜCHER.de.", "xn--bcher-kva.de"],
    ["xn--bcher-kva.de", "xn--bcher-kva.de"],
    ["XN--BCHER-KVA.DE", "xn--bcher-kva.de"],
  ];
  for (const [raw, canonical] of table) assert.equal(canonicalDomain(raw), canonical, raw);
  for (const bad of ["", ".", "example..com", "xn--.de", "exa mple.com", "example.com.."]) assert.equal(canonicalDomain(bad), undefined, bad);
});

test("delivery keeps the local part as written; matching folds its case and compatibility forms", () => {
  assert.equal(canonicalAddress("S-A@ｅｘａｍｐｌｅ.com."), "S-A@example.com");
  assert.equal(canonicalAddress("Ann@bücher.de"), "Ann@xn--bcher-kva.de");
  assert.equal(canonicalAddress("no-at-sign"), undefined);
  for (const a of ["s-a@example.com", "S-A@example.com", "s-a@example.com.", "s-a@ｅｘａｍｐｌｅ.com", "ｓ-ａ@example.com", " s-a@EXAMPLE.COM "]) {
    assert.equal(matchingAddress(a), "s-a@example.com", a);
  }
  for (const a of ["ann@bücher.de", "ann@xn--bcher-kva.de", "Ann@BÜCHER.de."]) assert.equal(matchingAddress(a), "ann@xn--bcher-kva.de", a);
  assert.equal(matchingAddress("Ünï@example.com"), "ünï@example.com");
  assert.equal(suppressionKey("acme", "s-a@ｅｘａｍｐｌｅ.com"), suppressionKey("acme", "s-a@example.com"));
  assert.notEqual(suppressionKey("acme", "s-a@example.com"), suppressionKey("other", "s-a@example.com"));
  // An IDN entry written before the canonical form (keyed by the lower-cased U-label) is still found.
  const legacy = `acme.${Buffer.from("ann@bücher.de").toString("base64url")}`;
  assert.deepEqual(suppressionKeys("acme", "Ann@Bücher.de"), [suppressionKey("acme", "ann@xn--bcher-kva.de"), legacy]);
  assert.deepEqual(suppressionKeys("acme", "ann@example.com"), [suppressionKey("acme", "ann@example.com")]);
});

test("the envelope carries canonical domains and counts a rewritten address once", () => {
  const r = parseSendRequest({ from: "news@acme.test", subject: "s", text: "t", to: ["Ann@bücher.de", "ann@xn--bcher-kva.de", "s-a@ｅｘａｍｐｌｅ.com", "S-A@example.com."] });
  assert.ok(r.ok);
  assert.deepEqual(envelopeRecipients(r.value), ["Ann@xn--bcher-kva.de", "s-a@example.com"]);
});
