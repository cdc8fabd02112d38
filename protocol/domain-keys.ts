import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, generateKeyPair, hkdfSync, randomBytes, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { validationError, internalError, errorMessage } from "./errors.ts";

/**
 * DKIM private keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from
 * SLUICE_SECRET_KEY. The additional data binds a sealed key to its (tenant, domain,
 * selector): a ciphertext copied into another tenant's entry does not open.
 */

const FORMAT = "v1";

export interface SealContext {
  tenant: string;
  domain: string;
  selector: string;
}

const aad = (c: SealContext): Buffer => Buffer.from(`${c.tenant}|${c.domain}|${c.selector}`);

/** The AES key of a SLUICE_SECRET_KEY; derived once per process by the caller. */
export function sealingKey(secret: string): Buffer {
  if (secret.length < 16) throw validationError("secret_key_too_short", "SLUICE_SECRET_KEY must be at least 16 characters (e.g. openssl rand -base64 32)", "SLUICE_SECRET_KEY");
  return Buffer.from(hkdfSync("sha256", Buffer.from(secret), Buffer.from("sluice"), Buffer.from("sluice dkim private keys"), 32));
}

export function seal(key: Buffer, plaintext: string, c: SealContext): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad(c));
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [FORMAT, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ct.toString("base64url")].join(".");
}

/** The plaintext, or an internal error (wrong SLUICE_SECRET_KEY, or the entry was tampered with). */
export function unseal(key: Buffer, sealed: string, c: SealContext): string {
  const [format, iv, tag, ct] = sealed.split(".");
  if (format !== FORMAT || iv === undefined || tag === undefined || ct === undefined) throw internalError("sealed_key_invalid", `sealed DKIM key of ${c.domain} is not in the ${FORMAT} format`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
    decipher.setAAD(aad(c));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  } catch (e) {
    throw internalError("sealed_key_unreadable", `DKIM key of ${c.domain} (tenant ${c.tenant}) does not open with this SLUICE_SECRET_KEY: ${errorMessage(e)}`, e);
  }
}

export interface RsaKeyPair {
  /** PKCS#8 PEM. */
  privateKey: string;
  /** Base64 SubjectPublicKeyInfo DER (the p= tag). */
  publicKey: string;
}

const publicOf = (k: KeyObject): string => createPublicKey(k).export({ type: "spki", format: "der" }).toString("base64");

const generateRsa = promisify(generateKeyPair);

/** A new RSA 2048 key: 50-500 ms of CPU, on libuv's thread pool so the gateway keeps serving meanwhile. */
export async function generateDkimKey(): Promise<RsaKeyPair> {
  const { privateKey } = await generateRsa("rsa", { modulusLength: 2048 });
  return { privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey: publicOf(privateKey) };
}

/** A tenant's own key, checked: RSA, 1024 to 4096 bits (RFC 8301 forbids less than 1024). */
export function importDkimKey(pem: string): RsaKeyPair {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw validationError("invalid_dkim_key", `dkim.privateKey is not a PEM private key: ${errorMessage(e)}`, "dkim.privateKey");
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== "rsa" || bits < 1024 || bits > 4096) {
    throw validationError("invalid_dkim_key", `dkim.privateKey must be an RSA key of 1024 to 4096 bits (got ${key.asymmetricKeyType ?? "?"} ${bits})`, "dkim.privateKey");
  }
  return { privateKey: key.export({ type: "pkcs8", format: "pem" }).toString(), publicKey: publicOf(key) };
}

/** A fresh selector: `s` + the date + 4 random characters, distinct across rotations. */
export function newSelector(now: number): string {
  const d = new Date(now).toISOString().slice(0, 10).replace(/-/g, "");
  return `s${d}-${randomBytes(3).toString("hex").slice(0, 4)}`;
}
