import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { check, validationError } from "../../protocol/index.ts";

const DkimFile = z.record(
  z.string().min(1),
  z.object({ selector: z.string().regex(/^[A-Za-z0-9._-]+$/), privateKeyFile: z.string().min(1) }).strict(),
);

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

/** `SLUICE_DKIM_KEYS`: `{"example.com": {"selector": "s1", "privateKeyFile": "keys/example.pem"}}`, paths relative to the file. */
export function loadDkimKeys(file: string | undefined): Map<string, DkimKey> {
  const keys = new Map<string, DkimKey>();
  if (file === undefined) return keys;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw validationError("dkim_keys_invalid", `SLUICE_DKIM_KEYS: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`, "SLUICE_DKIM_KEYS");
  }
  const checked = check(DkimFile, raw, "dkim_keys");
  if (!checked.ok) throw validationError("dkim_keys_invalid", `SLUICE_DKIM_KEYS: ${checked.error.message}`, "SLUICE_DKIM_KEYS");
  for (const [domain, entry] of Object.entries(checked.value)) {
    const path = resolve(dirname(file), entry.privateKeyFile);
    let privateKey: string;
    try {
      privateKey = readFileSync(path, "utf8");
    } catch (e) {
      throw validationError("dkim_keys_invalid", `SLUICE_DKIM_KEYS: key of ${domain} unreadable at ${path}: ${e instanceof Error ? e.message : String(e)}`, "SLUICE_DKIM_KEYS");
    }
    keys.set(domain.toLowerCase(), { domainName: domain.toLowerCase(), keySelector: entry.selector, privateKey });
  }
  return keys;
}
