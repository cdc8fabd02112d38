/**
 * A token bucket (rate per second, burst) with optional fixed-window caps per minute and
 * per hour. Pure: the caller passes the time, so a test drives it with a fake clock.
 */
export interface BucketLimits {
  ratePerSecond: number;
  burst: number;
  perMinute?: number | undefined;
  perHour?: number | undefined;
}

export class TokenBucket {
  #tokens: number;
  #last: number;
  #minuteStart = 0;
  #minuteCount = 0;
  #hourStart = 0;
  #hourCount = 0;

  constructor(private limits: BucketLimits, now: number) {
    this.#tokens = limits.burst;
    this.#last = now;
  }

  get ratePerSecond(): number {
    return this.limits.ratePerSecond;
  }

  /** Change the limits (a new policy, or adaptive throttling); tokens already earned stay, up to the new burst. */
  setLimits(limits: BucketLimits, now: number): void {
    this.#refill(now);
    this.limits = limits;
    this.#tokens = Math.min(this.#tokens, limits.burst);
  }

  /** Send nothing for `ms` (a destination asked us to back off): the bucket owes that much time's tokens. */
  pause(now: number, ms: number): void {
    this.#refill(now);
    this.#tokens = Math.min(this.#tokens, 1 - (ms / 1000) * this.limits.ratePerSecond);
  }

  tryTake(now: number): boolean {
    this.#refill(now);
    this.#rollWindows(now);
    if (this.#tokens < 1) return false;
    if (this.limits.perMinute !== undefined && this.#minuteCount >= this.limits.perMinute) return false;
    if (this.limits.perHour !== undefined && this.#hourCount >= this.limits.perHour) return false;
    this.#tokens -= 1;
    this.#minuteCount++;
    this.#hourCount++;
    return true;
  }

  /** Milliseconds until `tryTake` can succeed (0 if it can now). */
  waitMs(now: number): number {
    this.#refill(now);
    this.#rollWindows(now);
    let wait = this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.limits.ratePerSecond) * 1000);
    if (this.limits.perMinute !== undefined && this.#minuteCount >= this.limits.perMinute) wait = Math.max(wait, this.#minuteStart + 60_000 - now);
    if (this.limits.perHour !== undefined && this.#hourCount >= this.limits.perHour) wait = Math.max(wait, this.#hourStart + 3_600_000 - now);
    return Math.max(0, wait);
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.limits.burst, this.#tokens + (elapsed / 1000) * this.limits.ratePerSecond);
  }

  #rollWindows(now: number): void {
    if (now - this.#minuteStart >= 60_000) {
      this.#minuteStart = now - ((now - this.#minuteStart) % 60_000);
      this.#minuteCount = 0;
    }
    if (now - this.#hourStart >= 3_600_000) {
      this.#hourStart = now - ((now - this.#hourStart) % 3_600_000);
      this.#hourCount = 0;
    }
  }
}
