import type { ObjectStore } from "@nats-io/obj";
import { decode } from "../codec.ts";
import { permanentError } from "../errors.ts";
import { Payload, type PayloadRef } from "../schemas/payload.ts";
import { payloadBytes, payloadRefOf } from "../payload-store.ts";

/** Store a payload unless an object with its hash already exists; `stored` says which. */
export async function storePayload(os: ObjectStore, payload: Payload): Promise<PayloadRef & { stored: boolean }> {
  const bytes = payloadBytes(payload);
  return storePayloadBytes(os, bytes);
}

export async function storePayloadBytes(os: ObjectStore, bytes: Uint8Array): Promise<PayloadRef & { stored: boolean }> {
  const ref = payloadRefOf(bytes);
  const existing = await os.info(ref);
  if (existing !== null && !existing.deleted) return { ref, size: bytes.length, stored: false };
  await os.putBlob({ name: ref }, bytes);
  return { ref, size: bytes.length, stored: true };
}

/**
 * Read and validate a payload. A missing object is permanent for the message that points
 * at it (it expired or was never written): retrying cannot bring it back.
 */
export async function loadPayload(os: ObjectStore, ref: string): Promise<Payload> {
  const bytes = await os.getBlob(ref);
  if (bytes === null) throw permanentError("payload_missing", `payload ${ref} is not in the object store`);
  const decoded = decode(Payload, bytes, "payload");
  if (!decoded.ok) throw permanentError("payload_invalid", decoded.error.message);
  return decoded.value;
}
