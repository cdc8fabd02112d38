/**
 * Work serialised per key in this process: each call waits for the one before it on the
 * same key. The shared counters' reservations (quota, rates) use it so that concurrent
 * requests of one tenant or key in a gateway reserve one block, not one each.
 */
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((r) => (done = r));
    const chained = before.then(() => mine);
    this.#tails.set(key, chained);
    await before;
    try {
      return await work();
    } finally {
      done();
      if (this.#tails.get(key) === chained) this.#tails.delete(key);
    }
  }
}
