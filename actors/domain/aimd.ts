/**
 * Adaptive throttling: additive increase, multiplicative decrease (as TCP does), for a
 * destination's rate and connection count. A throttle reply halves both (at most once per
 * `cooldownMs`, so one burst of 421s on parallel connections counts once); each success
 * gives back a little, until the policy's values are reached again.
 */
export class Aimd {
  rate: number;
  connections: number;
  throttleEvents = 0;
  #lastCut = -Infinity;
  #successes = 0;

  constructor(
    private configuredRate: number,
    private configuredConnections: number,
    private readonly cooldownMs = 1000,
  ) {
    this.rate = configuredRate;
    this.connections = configuredConnections;
  }

  get configured(): { rate: number; connections: number } {
    return { rate: this.configuredRate, connections: this.configuredConnections };
  }

  /** A new policy: the ceiling moves; the current values never exceed it. */
  reconfigure(rate: number, connections: number): void {
    const wasFull = this.rate >= this.configuredRate;
    this.configuredRate = rate;
    this.configuredConnections = connections;
    this.rate = wasFull ? rate : Math.min(this.rate, rate);
    this.connections = Math.min(Math.max(this.connections, 1), connections);
    if (this.connections === 0) this.connections = connections;
  }

  /** Returns true when the cut happened (false inside the cooldown). */
  throttled(now: number): boolean {
    if (now - this.#lastCut < this.cooldownMs) return false;
    this.#lastCut = now;
    this.throttleEvents++;
    this.rate = Math.max(this.configuredRate * 0.02, this.rate / 2);
    this.connections = Math.max(1, Math.floor(this.connections / 2));
    this.#successes = 0;
    return true;
  }

  succeeded(): void {
    if (this.rate < this.configuredRate) this.rate = Math.min(this.configuredRate, this.rate + Math.max(this.configuredRate / 50, 0.05));
    if (this.connections < this.configuredConnections && ++this.#successes >= 20) {
      this.#successes = 0;
      this.connections++;
    }
  }
}
