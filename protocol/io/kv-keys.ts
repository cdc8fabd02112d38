import type { KV } from "@nats-io/kv";

/**
 * The keys of a KV bucket (optionally under a filter), each once. `kv.keys()` can name a
 * key again when it is rewritten while the listing runs (partition locks every few hundred
 * ms, batch counts every 250 ms): one CI run showed a node owning partition 0 four times.
 */
export async function listKeys(kv: KV, filter?: string): Promise<string[]> {
  const keys = new Set<string>();
  for await (const k of await kv.keys(filter)) keys.add(k);
  return [...keys];
}
