/**
 * Runs tasks concurrently up to a limit, but the tasks of one key one after another, in the
 * order they were scheduled. The consumers that need per-message order (status index,
 * webhook fan-out) use it to pipeline JetStream round trips across messages.
 */
export class KeyedRunner {
  readonly #chains = new Map<string, Promise<void>>();
  #inFlight = 0;
  #wake: (() => void) | undefined;

  constructor(private readonly limit: number) {}

  /** Resolves once the task is scheduled (waiting while `limit` tasks are in flight), not when it is done. */
  async schedule(key: string, task: () => Promise<void>): Promise<void> {
    while (this.#inFlight >= this.limit) await new Promise<void>((r) => (this.#wake = r));
    this.#inFlight++;
    // A task handles its own errors; a failure must not break the chain of its key.
    const next = (this.#chains.get(key) ?? Promise.resolve()).then(task).catch(() => undefined);
    this.#chains.set(key, next);
    void next.finally(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
      this.#inFlight--;
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    });
  }

  /** Wait for everything scheduled so far. */
  async drain(): Promise<void> {
    await Promise.all(this.#chains.values());
  }
}
