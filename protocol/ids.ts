import { randomBytes } from "node:crypto";

// Crockford base32, lower case: ids sort by creation time and are safe in URLs,
// subjects, KV keys and object names.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function encodeBase32(value: bigint, length: number): string {
  let out = "";
  let v = value;
  for (let i = 0; i < length; i++) {
    out = (ALPHABET[Number(v & 31n)] as string) + out;
    v >>= 5n;
  }
  return out;
}

/** A 26-character, time-sortable, random id (ULID layout: 48 bits of ms time, 80 random bits). */
export function newId(now: number = Date.now()): string {
  const rand = randomBytes(10);
  return encodeBase32(BigInt(now), 10) + encodeBase32(BigInt(`0x${rand.toString("hex")}`), 16);
}

export const ID_PATTERN = /^[0-9a-z]{26}$/;

/** Recipient ids are derived, not random, so that a retried fan-out produces the same ids. */
export const recipientId = (parentId: string, index: number): string => `${parentId}-${index}`;

export const RECIPIENT_ID_PATTERN = /^[0-9a-z]{26}-\d{1,7}$/;

/** The object-store name of a payload: its content hash, so the same payload is stored once. */
export const payloadRefPattern = /^sha256-[0-9a-f]{64}$/;
