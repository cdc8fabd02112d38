import type { KV } from "@nats-io/kv";
import { matchingAddress } from "../canonical-address.ts";
import { decode, encode } from "../codec.ts";
import { Suppression, suppressionKey, suppressionKeys } from "../suppressions.ts";

export async function addSuppression(kv: KV, tenant: string, entry: Suppression): Promise<void> {
  await kv.put(suppressionKey(tenant, entry.address), encode({ ...entry, address: matchingAddress(entry.address) }));
}

export async function getSuppression(kv: KV, tenant: string, address: string): Promise<Suppression | undefined> {
  for (const key of suppressionKeys(tenant, address)) {
    const s = await getByKey(kv, key);
    if (s !== undefined) return s;
  }
  return undefined;
}

export async function removeSuppression(kv: KV, tenant: string, address: string): Promise<boolean> {
  let removed = false;
  for (const key of suppressionKeys(tenant, address)) {
    if ((await getByKey(kv, key)) === undefined) continue;
    await kv.delete(key);
    removed = true;
  }
  return removed;
}

/** Every suppression of one tenant, at most `limit`. */
export async function listSuppressions(kv: KV, tenant: string, limit = 1000): Promise<Suppression[]> {
  const out: Suppression[] = [];
  const keys = await kv.keys(`${tenant}.>`);
  for await (const key of keys) {
    if (out.length >= limit) break;
    const e = await kv.get(key);
    if (e === null || e.operation !== "PUT") continue;
    const decoded = decode(Suppression, e.value, "suppression");
    if (decoded.ok) out.push(decoded.value);
  }
  return out;
}


async function getByKey(kv: KV, key: string): Promise<Suppression | undefined> {
  const e = await kv.get(key);
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(Suppression, e.value, "suppression");
  return decoded.ok ? decoded.value : undefined;
}
