import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { batchCountsKey, encode, type BatchCounts, type MessageStatus } from "../protocol/index.ts";

/** How often the running totals are written; the events they count are acked after. */
const FLUSH_EVERY_MS = 250;
/** Flush at once past this many events waiting for their ack (the consumer allows 4,096). */
const FLUSH_AT_PENDING = 512;
/** Batches whose totals stay in memory; the least recently counted go first. */
const MAX_BATCHES = 50_000;

interface Totals {
  key: string;
  counts: BatchCounts["counts"];
}

/**
 * The status indexer's per-batch status counts (see protocol/status.ts). Transitions are
 * added up in memory and this process's running totals are written to its own key every
 * 250 ms; an event is acked only after a write that includes it, so a crash loses no
 * count (the unacked events come back and are counted by whoever indexes them next). An
 * event whose write landed but whose ack did not is counted again when it comes back only
 * if it changes the recipient's status again, which a repeated event does not.
 */
export class BatchTally {
  readonly #totals = new Map<string, Totals>();
  readonly #dirty = new Set<Totals>();
  #pending: JsMsg[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #closed = false;
  #generation = 0;

  constructor(
    private readonly put: (key: string, value: Uint8Array) => Promise<void>,
    private readonly writer: string,
    private readonly log: Logger,
  ) {}

  /** Count one recipient's move from `from` (undefined: it had no record) to `to`; acks `m` once written. */
  count(tenant: string, batchId: string, from: MessageStatus | undefined, to: MessageStatus, m: JsMsg): void {
    if (from === to) {
      m.ack();
      return;
    }
    const batch = `${tenant}.${batchId}`;
    let t = this.#totals.get(batch);
    if (t === undefined) {
      // A new key each time a batch's totals start from zero here (also after eviction), so
      // a put never overwrites totals this process no longer holds.
      t = { key: batchCountsKey(tenant, batchId, `${this.writer}-${this.#generation++}`), counts: {} };
      if (this.#totals.size >= MAX_BATCHES) {
        const oldest = this.#totals.keys().next().value;
        if (oldest !== undefined) this.#totals.delete(oldest); // still written if dirty
      }
    } else {
      this.#totals.delete(batch); // re-inserted below: most recently counted last
    }
    this.#totals.set(batch, t);
    if (from !== undefined) t.counts[from] = (t.counts[from] ?? 0) - 1;
    t.counts[to] = (t.counts[to] ?? 0) + 1;
    this.#dirty.add(t);
    this.#pending.push(m);
    if (this.#pending.length >= FLUSH_AT_PENDING) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
  }

  /** Write every changed total, then ack the events they include. One flush at a time. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing.then(() => (this.#dirty.size > 0 ? this.flush() : undefined));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dirty.size === 0) return Promise.resolve();
    const written = [...this.#dirty];
    const writes = written.map((t) => ({ key: t.key, value: encode({ counts: { ...t.counts } }) }));
    const acks = this.#pending;
    this.#dirty.clear();
    this.#pending = [];
    this.#flushing = Promise.all(writes.map((w) => this.put(w.key, w.value)))
      .then(
        () => {
          for (const m of acks) m.ack();
        },
        (err: unknown) => {
          // The totals in memory still include these transitions: the next flush writes them.
          this.log.warn({ err }, "batch counts could not be written; retrying");
          for (const t of written) this.#dirty.add(t);
          this.#pending = [...acks, ...this.#pending];
          if (!this.#closed) this.#timer ??= setTimeout(() => void this.flush(), 1000);
        },
      )
      .finally(() => {
        this.#flushing = undefined;
      });
    return this.#flushing;
  }

  /** Write what is left. Events still unwritten after that are redelivered to another indexer. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
