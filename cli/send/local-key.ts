import { readFileSync } from "node:fs";
import { join } from "node:path";

/** Where `make run` keeps the local profile's API key (scripts/run.sh writes it). */
export const LOCAL_KEY_FILE = "local-api-key";

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * The local profile's key, when the gateway is on this machine and `make run` left one:
 * `sluice send --to …` then works with no key to copy. Never for a remote URL — a key
 * read from disk is not sent anywhere but here.
 */
export function localApiKey(url: string, dataDir = process.env.SLUICE_DATA_DIR ?? ".data"): string | undefined {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  if (!LOCAL_HOSTS.has(host)) return undefined;
  try {
    const key = readFileSync(join(dataDir, LOCAL_KEY_FILE), "utf8").trim();
    return key === "" ? undefined : key;
  } catch {
    return undefined;
  }
}
