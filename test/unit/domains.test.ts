import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import {
  afterCheck,
  assertSecretKey,
  checkRecord,
  describeConfig,
  dkimRecordValue,
  domainEventOf,
  domainRecords,
  domainView,
  generateDkimKey,
  importDkimKey,
  returnPathDomainOf,
  isSluiceError,
  loadConfig,
  newSelector,
  seal,
  sealingKey,
  spfMechanisms,
  txtStrings,
  unseal,
  type DomainEntry,
  type RecordCheck,
} from "../../protocol/index.ts";

const settings = { spf: ["include:_spf.sluice.example"], inboundHost: "inbound.sluice.example." };

function entry(over: Partial<DomainEntry> = {}): DomainEntry {
  return {
    v: 1,
    tenant: "acme",
    domain: "acme.test",
    status: "pending",
    keys: [{ selector: "s1", publicKey: "PUB1", sealedKey: "x", state: "active", uploaded: false, createdAt: 1 }],
    createdAt: 1,
    updatedAt: 1,
    ...over,
  };
}

test("records: exact TXT and MX values for DKIM, SPF, DMARC and the return path", () => {
  const records = domainRecords(entry(), settings);
  assert.deepEqual(
    records.map((r) => [r.purpose, r.type, r.name, r.value, r.required]),
    [
      ["dkim", "TXT", "s1._domainkey.acme.test", "v=DKIM1; k=rsa; p=PUB1", true],
      ["spf", "TXT", "acme.test", "v=spf1 include:_spf.sluice.example ~all", false],
      ["dmarc", "TXT", "_dmarc.acme.test", "v=DMARC1; p=none; rua=mailto:dmarc-reports@acme.test", false],
      ["return_path", "MX", "bounces.acme.test", "inbound.sluice.example", false],
      ["return_path_spf", "TXT", "bounces.acme.test", "v=spf1 include:_spf.sluice.example ~all", false],
    ],
  );
  assert.equal(records[3]?.zone, "bounces.acme.test. IN MX 10 inbound.sluice.example.");
  assert.equal(records[1]?.zone, 'acme.test. IN TXT "v=spf1 include:_spf.sluice.example ~all"');
});

test("a 2048-bit key's DKIM record is split into 255-byte strings that join back to the value", async () => {
  const key = await generateDkimKey();
  const [dkim] = domainRecords(entry({ keys: [{ selector: "s1", publicKey: key.publicKey, sealedKey: "x", state: "active", uploaded: false, createdAt: 1 }] }), settings);
  assert.ok(dkim?.strings);
  assert.equal(dkim.value, dkimRecordValue(key.publicKey));
  assert.equal(dkim.value.length, 18 + 392); // "v=DKIM1; k=rsa; p=" + base64 of a 294-byte SPKI
  assert.deepEqual(dkim.strings.map((s) => s.length), [255, dkim.value.length - 255]);
  assert.equal(dkim.strings.join(""), dkim.value);
  assert.match(dkim.zone, /^s1\._domainkey\.acme\.test\. IN TXT "v=DKIM1; k=rsa; p=[^"]{237}" "[^"]+"$/);
});

test("txtStrings cuts at 255 bytes, never inside a UTF-8 character, and keeps an empty value as one string", () => {
  assert.deepEqual(txtStrings("a".repeat(510)).map((s) => s.length), [255, 255]);
  assert.deepEqual(txtStrings("a".repeat(511)).map((s) => s.length), [255, 255, 1]);
  const mixed = txtStrings("a".repeat(254) + "é" + "b");
  assert.deepEqual(mixed, ["a".repeat(254), "éb"]);
  assert.ok(mixed.every((s) => Buffer.byteLength(s) <= 255));
  assert.deepEqual(txtStrings(""), [""]);
});

test("SPF settings: bare names are include:, mechanisms are kept", () => {
  assert.deepEqual(spfMechanisms("_spf.example.net, ip4:203.0.113.5 include:x.test"), ["include:_spf.example.net", "ip4:203.0.113.5", "include:x.test"]);
  assert.deepEqual(loadConfig({ SLUICE_SPF_INCLUDE: "ip4:203.0.113.5" }).domains.spf, ["ip4:203.0.113.5"]);
  assert.deepEqual(loadConfig({ SLUICE_EHLO_NAME: "mta.example" }).domains.spf, ["a:mta.example"]);
});

test("checks: a DKIM record with the key passes (strings joined, spaces ignored); another key or none does not", () => {
  const [dkim, spf, dmarc, mx] = domainRecords(entry(), settings);
  assert.ok(dkim && spf && dmarc && mx);
  assert.equal(checkRecord(dkim, { ok: true, values: ["v=DKIM1; k=rsa; p=PU B1"] }).ok, true);
  const other = checkRecord(dkim, { ok: true, values: ["v=DKIM1; k=rsa; p=OTHER"] });
  assert.equal(other.ok, false);
  assert.match(other.problem ?? "", /different key/);
  assert.deepEqual(other.found, ["v=DKIM1; k=rsa; p=OTHER"]);
  assert.match(checkRecord(dkim, { ok: false, missing: true, error: "ENOTFOUND" }).problem ?? "", /no TXT record at s1\._domainkey\.acme\.test/);
  assert.match(checkRecord(dkim, { ok: false, missing: false, error: "ETIMEOUT" }).problem ?? "", /lookup failed: ETIMEOUT/);
  // SPF: any v=spf1 record that contains the mechanism, among other TXT records.
  assert.equal(checkRecord(spf, { ok: true, values: ["google-site-verification=x", "v=spf1 mx include:_spf.sluice.example -all"] }).ok, true);
  assert.equal(checkRecord(spf, { ok: true, values: ["v=spf1 mx -all"] }).ok, false);
  assert.equal(checkRecord(dmarc, { ok: true, values: ["v=DMARC1; p=reject"] }).ok, true);
  assert.equal(checkRecord(mx, { ok: true, values: ["INBOUND.sluice.example."] }).ok, true);
  assert.equal(checkRecord(mx, { ok: true, values: ["mx.elsewhere.example"] }).ok, false);
  // What DNS answers is kept bounded (it is stored and shown), but judged whole.
  const flood = checkRecord(dmarc, { ok: true, values: [...Array.from({ length: 50 }, () => "x".repeat(5000)), "v=DMARC1; p=none"] });
  assert.equal(flood.ok, true);
  assert.equal(flood.found.length, 10);
  assert.ok(flood.found.every((v) => v.length <= 1025));
});

const dkimCheck = (selector: string, ok: boolean): RecordCheck => ({ name: `${selector}._domainkey.acme.test`, type: "TXT", purpose: "dkim", selector, ok, found: [], ...(ok ? {} : { problem: "no TXT record" }) });

test("status: pending until the active key's record is seen; verified → failed when it goes; failed → verified when it is back", () => {
  const verified = afterCheck(entry(), [dkimCheck("s1", true)], 100, 1000);
  assert.equal(verified.status, "verified");
  assert.equal(verified.verifiedAt, 100);
  assert.equal(afterCheck(entry(), [dkimCheck("s1", false)], 100, 1000).status, "pending");
  const failed = afterCheck(verified, [dkimCheck("s1", false)], 200, 1000);
  assert.equal(failed.status, "failed");
  assert.equal(failed.reason, "no TXT record");
  const back = afterCheck(failed, [dkimCheck("s1", true)], 300, 1000);
  assert.equal(back.status, "verified");
  assert.equal(back.reason, undefined);
});

test("rotation: the next key becomes active when its record is seen; the old one retires after the grace period", () => {
  const rotating = entry({
    status: "verified",
    keys: [
      { selector: "s1", publicKey: "PUB1", sealedKey: "x", state: "active", uploaded: false, createdAt: 1 },
      { selector: "s2", publicKey: "PUB2", sealedKey: "y", state: "next", uploaded: false, createdAt: 2 },
    ],
  });
  const notYet = afterCheck(rotating, [dkimCheck("s1", true), dkimCheck("s2", false)], 100, 1000);
  assert.deepEqual(notYet.keys.map((k) => [k.selector, k.state]), [["s1", "active"], ["s2", "next"]]);
  const switched = afterCheck(rotating, [dkimCheck("s1", true), dkimCheck("s2", true)], 100, 1000);
  assert.deepEqual(switched.keys.map((k) => [k.selector, k.state, k.retireAt]), [["s1", "retiring", 1100], ["s2", "active", undefined]]);
  assert.equal(switched.status, "verified");
  // The retiring record is listed but not required.
  assert.deepEqual(domainRecords(switched, settings).filter((r) => r.purpose === "dkim").map((r) => [r.selector, r.required]), [["s1", false], ["s2", true]]);
  const later = afterCheck(switched, [dkimCheck("s2", true)], 1100, 1000);
  assert.deepEqual(later.keys.map((k) => k.selector), ["s2"]);
});

test("the view never shows a key, and names what is missing", () => {
  const checked = afterCheck(entry(), [dkimCheck("s1", true)], 100, 1000);
  const view = domainView(checked, settings);
  assert.doesNotMatch(JSON.stringify(view), /sealedKey|"x"/);
  assert.deepEqual(view.missing, ["spf", "dmarc", "return_path", "return_path_spf"]);
  assert.equal(view.selector, "s1");
});

test("sealed keys open only with the same secret and the same (tenant, domain, selector)", () => {
  const key = sealingKey("0123456789abcdef-secret");
  const ctx = { tenant: "acme", domain: "acme.test", selector: "s1" };
  const sealed = seal(key, "PRIVATE", ctx);
  assert.doesNotMatch(sealed, /PRIVATE/);
  assert.equal(unseal(key, sealed, ctx), "PRIVATE");
  assert.throws(() => unseal(sealingKey("another-secret-0123456"), sealed, ctx), /does not open/);
  assert.throws(() => unseal(key, sealed, { ...ctx, tenant: "bravo" }), /does not open/);
  assert.throws(() => sealingKey("short"), /at least 16/);
});

test("an uploaded key must be RSA of 1024 to 4096 bits", () => {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  assert.ok(importDkimKey(rsa).publicKey.length > 100);
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  assert.throws(() => importDkimKey(ec), (e: unknown) => isSluiceError(e) && e.code === "invalid_dkim_key");
  assert.throws(() => importDkimKey("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"), (e: unknown) => isSluiceError(e) && e.code === "invalid_dkim_key");
});

test("selectors are DNS labels and differ between rotations", () => {
  const a = newSelector(Date.UTC(2026, 0, 2));
  assert.match(a, /^s20260102-[0-9a-f]{4}$/);
  assert.notEqual(a, newSelector(Date.UTC(2026, 0, 2)));
});

test("config: verified sender domains are required in production, not in local; production needs SLUICE_SECRET_KEY", () => {
  assert.equal(loadConfig({}).domains.requireVerified, true);
  assert.equal(loadConfig({ SLUICE_PROFILE: "local" }).domains.requireVerified, false);
  assert.equal(loadConfig({ SLUICE_REQUIRE_VERIFIED_DOMAINS: "0" }).domains.requireVerified, false);
  assert.throws(() => assertSecretKey(loadConfig({})), (e: unknown) => isSluiceError(e) && e.code === "secret_key_missing");
  assert.doesNotThrow(() => assertSecretKey(loadConfig({ SLUICE_SECRET_KEY: "0123456789abcdef" })));
  assert.doesNotThrow(() => assertSecretKey(loadConfig({ SLUICE_PROFILE: "local" })));
  assert.throws(() => loadConfig({ SLUICE_SECRET_KEY: "short" }), /SLUICE_SECRET_KEY/);
  assert.deepEqual(loadConfig({ SLUICE_DNS_SERVERS: "127.0.0.1:5353, 10.0.0.2" }).domains.dnsServers, ["127.0.0.1:5353", "10.0.0.2"]);
  assert.throws(() => loadConfig({ SLUICE_DNS_SERVERS: "dns.example" }), /SLUICE_DNS_SERVERS/);
  const lines = describeConfig(loadConfig({ SLUICE_SECRET_KEY: "0123456789abcdef" }));
  assert.ok(lines.includes("SLUICE_SECRET_KEY=****"));
});

test("domain events: only a stored change to verified or failed is told, with a deterministic id", () => {
  const verified = afterCheck(entry(), [dkimCheck("s1", true)], 100, 1000);
  const ev = domainEventOf("pending", verified, settings);
  assert.deepEqual(ev, { v: 1, id: "acme.acme.test.domain.verified.100", type: "domain.verified", tenant: "acme", domain: "acme.test", at: 100, missing: ["spf", "dmarc", "return_path", "return_path_spf"] });
  assert.equal(domainEventOf("verified", verified, settings), undefined, "no change, no event");
  assert.equal(domainEventOf(undefined, verified, settings), undefined, "first sight is not a change");
  const failed = afterCheck(verified, [dkimCheck("s1", false)], 200, 1000);
  assert.equal(domainEventOf("verified", failed, settings)?.type, "domain.failed");
  assert.equal(domainEventOf("verified", failed, settings)?.reason, "no TXT record");
  assert.equal(domainEventOf("verified", { ...failed, status: "pending" }, settings), undefined);
});

test("a sender domain has its own return path (bounces.<domain>) only once verified with both its MX and its SPF seen", () => {
  const records = domainRecords(entry(), settings);
  const answers: Record<string, string[]> = {
    "s1._domainkey.acme.test": ["v=DKIM1; k=rsa; p=PUB1"],
    "bounces.acme.test TXT": ["v=spf1 include:_spf.sluice.example ~all"],
    "bounces.acme.test MX": ["inbound.sluice.example."],
  };
  const check = (drop: string[] = []) =>
    records.map((r) => {
      const key = r.purpose === "dkim" ? r.name : `${r.name} ${r.type}`;
      const values = drop.includes(key) ? undefined : answers[key];
      return checkRecord(r, values === undefined ? { ok: false, missing: true, error: "none" } : { ok: true, values });
    });
  const verified = (checks: RecordCheck[]) => afterCheck(entry(), checks, 10, 1000);
  assert.equal(verified(check()).status, "verified");
  assert.equal(returnPathDomainOf(verified(check())), "bounces.acme.test");
  assert.equal(returnPathDomainOf(verified(check(["bounces.acme.test MX"]))), undefined, "no MX: bounces would not reach us");
  assert.equal(returnPathDomainOf(verified(check(["bounces.acme.test TXT"]))), undefined, "no SPF there: SPF would not pass for the envelope sender");
  assert.equal(returnPathDomainOf({ ...verified(check()), status: "failed" }), undefined, "a failed domain uses the operator's bounce domain");
  // The return path's SPF is judged like the domain's own: the include must be there.
  const spf = records.find((r) => r.purpose === "return_path_spf")!;
  assert.equal(checkRecord(spf, { ok: true, values: ["v=spf1 -all"] }).ok, false);
});
