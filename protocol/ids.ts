import { randomBytes } from "node:crypto";

// Crockford base32, lower case: ids sort by creation time and are safe in URLs,
// subjects, KV keys and object names.
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * Random bytes are drawn from the OS 4 KiB at a time: one `randomBytes` call per id cost
 * ~3% of the gateway's CPU per request (it is a system call plus a Buffer each time).
 */
const POOL_BYTES = 4096;
let pool = randomBytes(POOL_BYTES);
let poolAt = 0;

function encodeTime(ms: number): string {
  // 48 bits in 10 characters; Number is exact up to 2^53 and division keeps it so.
  let out = "";
  let v = ms;
  for (let i = 0; i < 10; i++) {
    out = (ALPHABET[v % 32] as string) + out;
    v = Math.floor(v / 32);
  }
  return out;
}

/** A 26-character, time-sortable, random id (ULID layout: 48 bits of ms time, 80 random bits). */
export function newId(now: number = Date.now()): string {
  if (poolAt + 10 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  const b = pool;
  const o = poolAt;
  poolAt += 10;
  // 80 bits = two 40-bit halves, each 8 characters of 5 bits, most significant first.
  let out = encodeTime(now);
  for (const half of [o, o + 5]) {
    let v = (b[half] as number) * 2 ** 32 + (((b[half + 1] as number) << 24) >>> 0) + ((b[half + 2] as number) << 16) + ((b[half + 3] as number) << 8) + (b[half + 4] as number);
    let chunk = "";
    for (let i = 0; i < 8; i++) {
      chunk = (ALPHABET[v % 32] as string) + chunk;
      v = Math.floor(v / 32);
    }
    out += chunk;
  }
  return out;
}

export const ID_PATTERN = /^[0-9a-z]{26}$/;

/** Recipient ids are derived, not random, so that a retried fan-out produces the same ids. */
export const recipientId = (parentId: string, index: number): string => `${parentId}-${index}`;

export const RECIPIENT_ID_PATTERN = /^[0-9a-z]{26}-\d{1,7}$/;

/** The object-store name of a payload: its content hash, so the same payload is stored once. */
export const payloadRefPattern = /^sha256-[0-9a-f]{64}$/;
