import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures: `Sluice-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 * The timestamp is inside the MAC so a captured request cannot be replayed later than the
 * receiver's tolerance; several v1 values may appear while a secret is being rotated.
 */
export const SIGNATURE_HEADER = "sluice-signature";
export const DEFAULT_TOLERANCE_S = 300;

/** A new signing secret, shown to the client once. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString("base64url")}`;

const hmac = (secret: string, t: number, body: string | Uint8Array): string =>
  createHmac("sha256", secret).update(`${t}.`).update(body).digest("hex");

export function signWebhook(secret: string, body: string | Uint8Array, nowMs: number = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${hmac(secret, t, body)}`;
}

export type Verification = { ok: true; timestamp: number } | { ok: false; reason: "malformed" | "expired" | "mismatch" };

/** Check a `Sluice-Signature` header against the raw body bytes, in constant time. */
export function verifyWebhook(
  secret: string,
  body: string | Uint8Array,
  header: string | undefined,
  opts: { toleranceS?: number; nowMs?: number } = {},
): Verification {
  if (header === undefined) return { ok: false, reason: "malformed" };
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "t" && v !== undefined && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === "v1" && v !== undefined && /^[0-9a-f]{64}$/.test(v)) candidates.push(v);
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: "malformed" };
  const nowS = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  if (Math.abs(nowS - t) > (opts.toleranceS ?? DEFAULT_TOLERANCE_S)) return { ok: false, reason: "expired" };
  const expected = Buffer.from(hmac(secret, t, body), "hex");
  // Compare every candidate: the time taken says nothing about which one (if any) matched.
  let matched = false;
  for (const c of candidates) matched = timingSafeEqual(expected, Buffer.from(c, "hex")) || matched;
  return matched ? { ok: true, timestamp: t } : { ok: false, reason: "mismatch" };
}
