import { LRUCache } from "lru-cache";
import type { KV } from "@nats-io/kv";
import { getSuppression, type Suppression } from "../protocol/index.ts";

/**
 * The suppression check runs before every SMTP attempt; a KV round trip per message would
 * cost more than the send to a fast peer. Answers (including "not suppressed") are kept
 * for `ttlMs`: an address suppressed elsewhere is honoured within that time, and one this
 * node suppresses is known at once.
 */
export class SuppressionCache {
  #cache: LRUCache<string, { s: Suppression | undefined }>;
  lookups = 0;

  constructor(private readonly kv: KV, ttlMs = 30_000, max = 200_000) {
    this.#cache = new LRUCache({ max, ttl: ttlMs, ttlAutopurge: false });
  }

  async get(tenant: string, address: string): Promise<Suppression | undefined> {
    const key = `${tenant}\u0000${address.toLowerCase()}`;
    const hit = this.#cache.get(key);
    if (hit) return hit.s;
    this.lookups++;
    const s = await getSuppression(this.kv, tenant, address);
    this.#cache.set(key, { s });
    return s;
  }

  remember(tenant: string, address: string, s: Suppression): void {
    this.#cache.set(`${tenant}\u0000${address.toLowerCase()}`, { s });
  }
}
