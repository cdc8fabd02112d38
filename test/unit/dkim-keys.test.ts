import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDkimKeys } from "../../actors/smtp/dkim.ts";

const withFile = (content: unknown, run: (file: string) => void): void => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-dkim-keys-"));
  try {
    writeFileSync(join(dir, "k.pem"), "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n");
    writeFileSync(join(dir, "keys.json"), JSON.stringify(content));
    run(join(dir, "keys.json"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test("keys are looked up by tenant and canonical sender domain, never by domain alone", () => {
  withFile({ acme: { "Bücher.de.": { selector: "s1", privateKeyFile: "k.pem" } }, bravo: {} }, (file) => {
    const keys = loadDkimKeys(file);
    assert.equal(keys.get("acme", "xn--bcher-kva.de")?.domainName, "xn--bcher-kva.de");
    assert.equal(keys.get("acme", "xn--bcher-kva.de")?.keySelector, "s1");
    assert.equal(keys.get("bravo", "xn--bcher-kva.de"), undefined);
    assert.equal(keys.get("acme", "other.test"), undefined);
  });
});

test("the old domain → key shape is refused: it does not say whose key it is", () => {
  withFile({ "acme.test": { selector: "s1", privateKeyFile: "k.pem" } }, (file) => {
    assert.throws(() => loadDkimKeys(file), (e: { code?: string; message: string }) => e.code === "dkim_keys_invalid" && /old shape/.test(e.message) && /"<tenant>"/.test(e.message));
  });
  withFile({ "Not A Tenant": { "acme.test": { selector: "s1", privateKeyFile: "k.pem" } } }, (file) => {
    assert.throws(() => loadDkimKeys(file), (e: { code?: string }) => e.code === "dkim_keys_invalid");
  });
  withFile({ acme: { "acme.test": { selector: "s1", privateKeyFile: "missing.pem" } } }, (file) => {
    assert.throws(() => loadDkimKeys(file), /unreadable/);
  });
});
