import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { STREAMS, subjects, type DueEntry } from "../../protocol/index.ts";
import { purgeSubject, readDue } from "../../protocol/io/index.ts";

/** Entries of one second handled at once (those of one request one after another). */
const PARALLEL = 64;

/**
 * The leader's view of MAIL_SCHEDULED's due entries: which seconds have entries, and the
 * highest stream sequence seen in each, from an ordered consumer over `mail.sched.due.>`
 * from the stream's start (then live). Nothing else is kept in memory.
 */
export class DueSeconds {
  readonly #pending = new Map<number, number>();
  #index: ConsumerMessages | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly logger: Logger,
  ) {}

  async follow(): Promise<void> {
    this.stop();
    const consumer = await this.js.consumers.get(STREAMS.scheduled, { filter_subjects: subjects.schedDueAll, deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    this.#index = messages;
    void (async () => {
      for await (const m of messages) {
        const second = Number(m.subject.slice(m.subject.lastIndexOf(".") + 1));
        if (Number.isSafeInteger(second)) this.#pending.set(second, Math.max(this.#pending.get(second) ?? 0, m.seq));
      }
    })().catch((e: unknown) => this.logger.warn({ err: e }, "scheduler index ended"));
  }

  stop(): void {
    this.#index?.stop();
    this.#index = undefined;
    this.#pending.clear();
  }

  /** Seconds with entries that have wholly passed by `now`, oldest first. */
  passed(now: number): number[] {
    const current = Math.floor(now / 1000);
    return [...this.#pending.keys()].filter((s) => s < current).sort((a, b) => a - b);
  }

  /**
   * Hand every entry of `second` to `handle` (a request's entries one after another), then
   * purge them up to the last one read: an entry that arrives meanwhile stays for the next
   * look. If any fails, nothing is purged and the second is handled again (idempotent).
   */
  async handle(second: number, handle: (e: DueEntry) => Promise<void>): Promise<void> {
    const { entries, lastSeq } = await readDue(this.js, this.jsm, second);
    const byRequest = new Map<string, DueEntry[]>();
    for (const e of entries) byRequest.set(e.value.requestId, [...(byRequest.get(e.value.requestId) ?? []), e.value]);
    const groups = [...byRequest.values()];
    let failed = 0;
    for (let i = 0; i < groups.length; i += PARALLEL) {
      const results = await Promise.allSettled(
        groups.slice(i, i + PARALLEL).map(async (list) => {
          for (const e of list) await handle(e);
        }),
      );
      for (const r of results) {
        if (r.status === "fulfilled") continue;
        failed++;
        this.logger.warn({ err: r.reason as unknown, second }, "due entry not handled; retrying");
      }
    }
    if (failed > 0) return;
    if (lastSeq > 0) await purgeSubject(this.jsm, subjects.schedDue(second), lastSeq);
    if ((this.#pending.get(second) ?? 0) <= lastSeq) this.#pending.delete(second);
  }
}
