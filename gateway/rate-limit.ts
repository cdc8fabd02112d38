/**
 * Per-key token buckets, in this process. With several gateways each enforces the rate on
 * its own share of the traffic (a load balancer spreading evenly keeps the sum close);
 * a cluster-wide limit would cost a NATS round trip per request.
 */
export class KeyRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Take one token for `keyId` at `rate` per second (burst = one second's worth). 0 = unlimited. */
  take(keyId: string, rate: number): { ok: true } | { ok: false; retryAfterS: number } {
    if (rate <= 0) return { ok: true };
    const now = this.now();
    const b = this.#buckets.get(keyId) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.#buckets.set(keyId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / rate)) };
  }
}
