import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { localApiKey } from "../../cli/send/local-key.ts";

test("sluice send reads the local profile's key for a gateway on this machine only", () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-local-key-"));
  try {
    assert.equal(localApiKey("http://127.0.0.1:8080", dir), undefined, "no file yet");
    writeFileSync(join(dir, "local-api-key"), "sk_local_123\n");
    assert.equal(localApiKey("http://127.0.0.1:8080", dir), "sk_local_123");
    assert.equal(localApiKey("http://localhost:9000/", dir), "sk_local_123");
    assert.equal(localApiKey("http://[::1]:8080", dir), "sk_local_123");
    assert.equal(localApiKey("https://mail.example.com", dir), undefined, "never sent to a remote gateway");
    assert.equal(localApiKey("not a url", dir), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
