import type { Logger } from "pino";

/**
 * Tells the node which partitions to consume, until what it consumes is what ownership
 * wants. One call at a time, always with the newest set; a call that fails (a consumer
 * could not be opened while JetStream elects new leaders, say) is retried with backoff for
 * as long as it takes, and every failure is logged. Only a call that succeeded counts as
 * applied: the lock of a partition that left the set is released only after that.
 *
 * A fence is urgent: a partition whose lock may be lost must stop now, not after a
 * hand-over that waits for slow SMTP sessions, so `urgent()` calls the node at once even
 * while an earlier call runs (the node allows overlapping calls; the newest set counts).
 * Such an out-of-turn call never counts as applied; the loop applies the same set again.
 */

export interface ApplyLoopOptions {
  /** The set the node should consume now (read afresh before every call). */
  desired(): number[];
  /** Make the node consume exactly this set; resolves once it does. */
  apply(set: number[]): Promise<void>;
  /** Called after every successful, in-turn apply. */
  applied(): void;
  logger: Logger;
  /** A call running longer than this is reported (and again every as long). */
  slowAfterMs: number;
  /** Backoff after failures: first delay, doubled per failure up to the maximum. */
  retryMinMs: number;
  retryMaxMs: number;
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export class ApplyLoop {
  /** The set the node last confirmed, and the generation of that call. */
  #applied: { set: number[]; gen: number } = { set: [], gen: 0 };
  #gen = 0;
  #running = false;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(private readonly o: ApplyLoopOptions) {}

  /** Generation of the next call; a partition that left the set before it is drained once a call of a later generation succeeded. */
  get generation(): number {
    return this.#gen;
  }

  /** Has the node confirmed, in a call made after generation `since`, that it no longer consumes `p`? */
  drained(p: number, since: number): boolean {
    return this.#applied.gen > since && !this.#applied.set.includes(p);
  }

  /**
   * The desired set changed (or may have): reconcile, unless a call runs (the loop compares
   * again when it ends) or a retry is due (it will).
   */
  request(): void {
    if (!this.#running && this.#retryTimer === undefined && !this.#stopped) void this.#run();
  }

  /** A partition must stop at once: call the node now, even out of turn. */
  urgent(): void {
    if (!this.#running) {
      // Waiting out a backoff is fine for taking partitions, not for stopping one.
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      return this.request();
    }
    const set = this.o.desired();
    this.o.apply(set).catch((e: unknown) => this.o.logger.error({ err: e, owned: set }, "node failed to stop fenced partitions; the apply loop retries"));
  }

  /** Nothing running or waiting for a retry, and the node consumes what is desired. */
  settled(): boolean {
    return !this.#running && this.#retryTimer === undefined && same(this.#applied.set, this.o.desired());
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      // Until the node confirmed the set that is desired now: the set may change while a
      // call runs, and an urgent call out of turn leaves the node on a set the in-turn
      // call did not name.
      while (!this.#stopped && !same(this.#applied.set, this.o.desired())) {
        const gen = ++this.#gen;
        const set = this.o.desired();
        if (await this.#call(set)) {
          this.#applied = { set, gen };
          this.#failures = 0;
          this.o.applied();
        } else {
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = undefined;
            if (!this.#running) void this.#run();
          }, this.#backoff());
          return;
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #backoff(): number {
    return Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(this.#failures - 1, 20));
  }

  async #call(set: number[]): Promise<boolean> {
    const since = Date.now();
    // A hand-over waits for in-flight SMTP sessions; one that takes much longer than the
    // lease TTL holds every later change back, which someone should hear about.
    const slow = setInterval(() => this.o.logger.warn({ owned: set, waitedMs: Date.now() - since }, "node still applying a partition change"), this.o.slowAfterMs);
    try {
      await this.o.apply(set);
      if (this.#failures > 0) this.o.logger.info({ owned: set, failures: this.#failures }, "partition change applied after retries");
      return true;
    } catch (e) {
      this.#failures++;
      this.o.logger.error({ err: e, owned: set, failures: this.#failures, retryInMs: this.#backoff() }, "node failed to apply partition change; retrying");
      return false;
    } finally {
      clearInterval(slow);
    }
  }
}
