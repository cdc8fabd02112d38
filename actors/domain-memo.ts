import { domainOf } from "../protocol/index.ts";

/**
 * The IDN-aware canonical domain of an address, memoised: the parse costs more than the
 * rest of dispatch, and recipient and sender domains repeat across a blast. Bounded: past
 * `max` entries the memo starts over.
 */
export class DomainMemo {
  readonly #domains = new Map<string, string>();

  constructor(
    private readonly max: number,
    private readonly fallback: string,
  ) {}

  of(address: string): string {
    const raw = address.slice(address.lastIndexOf("@") + 1);
    let d = this.#domains.get(raw);
    if (d === undefined) {
      d = domainOf(address) ?? this.fallback;
      if (this.#domains.size >= this.max) this.#domains.clear();
      this.#domains.set(raw, d);
    }
    return d;
  }
}
