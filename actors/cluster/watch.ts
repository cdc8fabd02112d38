import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { Logger } from "pino";

export interface BucketWatch {
  /** Resolves once the bucket's current entries have been delivered. */
  initialized: Promise<void>;
  stop(): void;
}

/**
 * Follow every key of a bucket: current values first, then changes. The KV watcher is an
 * ordered consumer that survives reconnects; should it end anyway (the stream was
 * recreated, a server lost its state) a new one is opened and re-reads every value.
 * Expiries by the bucket's TTL are never reported: readers judge age themselves.
 */
export function watchBucket(kv: KV, retryMs: number, logger: Logger, what: string, onEntry: (e: KvWatchEntry) => void): BucketWatch {
  let stopped = false;
  let stopIter: () => void = () => undefined;
  let markInitialized: () => void = () => undefined;
  const initialized = new Promise<void>((resolve) => (markInitialized = resolve));

  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        const iter = await kv.watch();
        stopIter = () => iter.stop();
        if (stopped) iter.stop();
        // An empty bucket delivers nothing; isUpdate marks the last initial entry.
        if ((await kv.status()).values === 0) markInitialized();
        for await (const e of iter) {
          onEntry(e);
          if (e.isUpdate) markInitialized();
        }
      } catch (e) {
        if (!stopped) logger.warn({ err: e, bucket: what }, "KV watch failed; reopening");
      }
      if (!stopped) await new Promise((r) => setTimeout(r, retryMs));
    }
  };
  void loop();
  return {
    initialized,
    stop: () => {
      stopped = true;
      stopIter();
    },
  };
}
