import { LRUCache } from "lru-cache";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { suppressionKey, suppressionKeys, type Suppression } from "../protocol/index.ts";
import { getSuppression } from "../protocol/io/index.ts";

/**
 * The suppression check runs before every SMTP attempt, and most recipients are new
 * addresses: a KV read per message would cost more than the send itself (measured: it made
 * 20,000 messages take ~15 s to pass through one node). So the node watches the bucket's
 * *keys* (headers only, no values) and keeps the set in memory; only an address that is in
 * the set costs a read, for its reason. Memory: about 100 bytes per suppressed address.
 * Until the watch has replayed the bucket, every check reads KV.
 */
export class SuppressionCache {
  #keys = new Set<string>();
  #ready = false;
  #entries = new LRUCache<string, { s: Suppression | undefined }>({ max: 50_000, ttl: 60_000 });
  #stop: (() => void) | undefined;
  lookups = 0;

  constructor(private readonly kv: KV) {}

  async start(logger: Logger): Promise<void> {
    const status = await this.kv.status();
    if (status.values === 0) this.#ready = true;
    const iter = await this.kv.watch({ headers_only: true });
    this.#stop = () => iter.stop();
    void (async () => {
      for await (const e of iter) {
        if (e.operation === "PUT") this.#keys.add(e.key);
        else this.#keys.delete(e.key);
        this.#entries.delete(e.key);
        if (e.delta === 0) this.#ready = true;
      }
    })().catch((err: unknown) => {
      this.#ready = false; // fall back to reading KV for every check
      logger.warn({ err }, "suppression watch ended; checking KV per message");
    });
  }

  async get(tenant: string, address: string): Promise<Suppression | undefined> {
    const keys = suppressionKeys(tenant, address);
    const key = keys[0];
    if (this.#ready && !keys.some((k) => this.#keys.has(k))) return undefined;
    const hit = this.#entries.get(key);
    if (hit) return hit.s;
    this.lookups++;
    const s = await getSuppression(this.kv, tenant, address);
    this.#entries.set(key, { s });
    return s;
  }

  remember(tenant: string, address: string, s: Suppression): void {
    const key = suppressionKey(tenant, address);
    this.#keys.add(key);
    this.#entries.set(key, { s });
  }

  get size(): number {
    return this.#keys.size;
  }

  stop(): void {
    this.#stop?.();
  }
}
