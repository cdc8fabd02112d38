import { createHash } from "node:crypto";
import { Payload } from "./schemas/payload.ts";

/**
 * The payload pointer: a payload is stored once in the object store under the hash of
 * its canonical JSON, so the same content sent again (or by 100,000 recipients) is one
 * object. Canonical = keys sorted at every level, so key order in a request does not
 * change the hash.
 */
export function payloadBytes(payload: Payload): Uint8Array {
  return Buffer.from(JSON.stringify(payload, (_key, value: unknown) => sortKeys(value)));
}

function sortKeys(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = (value as Record<string, unknown>)[key];
  return sorted;
}

export const payloadRefOf = (bytes: Uint8Array): string => `sha256-${createHash("sha256").update(bytes).digest("hex")}`;
