/**
 * What a destination has told us about its limits, learned from its refusals and decaying
 * back to the policy. Pure: the caller passes the time.
 *
 * - Connections: a session refused for concurrency ("421 too many connections" at the
 *   greeting) means the destination allows what is open and working now, so the cap drops
 *   to that (never below 1). Halving, as AIMD does, would leave capacity unused.
 * - Rate: a message refused for rate means we sent more than the destination allows per
 *   its window. What it accepted over the last `windowMs` is its allowance; the new rate is
 *   that, less a margin. Refusals without an acceptance in between (the destination's
 *   window has not rolled over yet) teach nothing new and do not cut again, so the rate
 *   converges instead of collapsing to the floor and creeping back up.
 * - Decay: after `decayMs` without a refusal of a kind, one connection back, or +10% rate,
 *   and again every `decayMs`, until the policy's values.
 */
export type LimitSource = "policy" | "learned";

export interface LearnedLimitsOptions {
  /** How long without a refusal before a limit creeps back toward the policy. */
  decayMs: number;
  /** The window over which accepted messages measure the destination's allowance. */
  windowMs: number;
  /** Fraction of the measured allowance kept as the new rate. */
  margin: number;
}

export const DEFAULT_LEARNING: LearnedLimitsOptions = { decayMs: 60_000, windowMs: 10_000, margin: 0.9 };

export class LearnedLimits {
  connections: number;
  rate: number;
  /** Refusals that taught something (a cut), and all refusals seen. */
  cuts = 0;
  refusals = 0;
  #connectionsSince = -Infinity;
  #rateSince = -Infinity;
  /** Acceptance times in the last window (a ring would do; the window holds few seconds of sends). */
  #accepted: number[] = [];
  #firstAccepted = Infinity;
  #lastCutAt = -Infinity;
  #pauseEnd = -Infinity;
  /** Rate refusals since the last acceptance (refusals of sends already in flight count once). */
  #streak = 0;
  #streakAt = -Infinity;

  constructor(
    private policyRate: number,
    private policyConnections: number,
    private readonly o: LearnedLimitsOptions = DEFAULT_LEARNING,
  ) {
    this.rate = policyRate;
    this.connections = policyConnections;
  }

  get connectionSource(): LimitSource {
    return this.connections < this.policyConnections ? "learned" : "policy";
  }
  get rateSource(): LimitSource {
    return this.rate < this.policyRate ? "learned" : "policy";
  }
  get policy(): { rate: number; connections: number } {
    return { rate: this.policyRate, connections: this.policyConnections };
  }

  /** A new policy: learned values stay learned unless the policy is now lower. */
  reconfigure(rate: number, connections: number): void {
    const rateLearned = this.rateSource === "learned";
    const connLearned = this.connectionSource === "learned";
    this.policyRate = rate;
    this.policyConnections = connections;
    this.rate = rateLearned ? Math.min(this.rate, rate) : rate;
    this.connections = connLearned ? Math.min(this.connections, connections) : connections;
  }

  accepted(now: number): void {
    this.#accepted.push(now);
    if (this.#firstAccepted === Infinity) this.#firstAccepted = now;
    if (this.#accepted.length > 4096 || (this.#accepted[0] ?? now) < now - this.o.windowMs) this.#trim(now);
    this.#streak = 0;
    this.#streakAt = -Infinity;
  }

  /** A session refused for concurrency while `working` sessions were open. Returns true if the cap dropped. */
  connectionRefused(now: number, working: number): boolean {
    this.refusals++;
    this.#connectionsSince = now;
    const cap = Math.max(1, Math.min(this.connections, working));
    if (cap >= this.connections) return false;
    this.connections = cap;
    this.cuts++;
    return true;
  }

  /**
   * `working` sessions were open and accepted at once: the destination allows at least that
   * many. A refusal that came while sessions were still in their greeting learned too low
   * a cap; this puts it right.
   */
  sessionsWorking(working: number): void {
    if (working > this.connections) this.connections = Math.min(this.policyConnections, working);
  }

  /**
   * A message refused for rate. `cut`: the rate dropped. `pauseMs`: how long to send
   * nothing: 1 s, doubling (up to half the window) while refusals follow one another with
   * no acceptance in between. Refusals within a second of the last counted one answer
   * sends that were already under way: they count once.
   *
   * Two lessons, because one refusal cannot tell a destination counting per second from
   * one counting per minute:
   * - refused after acceptances: the allowance is what was accepted since we last resumed
   *   sending (up to the window; our own pauses are not the destination's allowance), at
   *   most one such lesson per window;
   * - refused again after a pause, nothing accepted in between: the destination counts
   *   over a longer window (Postfix anvil: 60 s by default), so its allowance is what it
   *   took over our whole window.
   */
  rateRefused(now: number): { cut: boolean; pauseMs: number } {
    this.refusals++;
    this.#rateSince = now;
    if (now < this.#streakAt) return { cut: false, pauseMs: 0 };
    this.#streak++;
    const pauseMs = Math.min(this.o.windowMs / 2, 1000 * 2 ** (this.#streak - 1));
    this.#streakAt = now + Math.max(1000, pauseMs);
    this.#trim(now);
    const accepted = this.#accepted.length;
    let next: number | undefined;
    if (this.#streak === 1) {
      if (now - this.#lastCutAt >= this.o.windowMs) {
        // Measured since we last resumed sending: time spent in our own pauses is not the destination's.
        const from = Math.max(now - this.o.windowMs, this.#pauseEnd, this.#firstAccepted);
        const n = this.#accepted.filter((t) => t >= from).length;
        // Nothing accepted: no measure, so halve.
        next = n > 0 ? (n / (Math.max(200, now - from) / 1000)) * this.o.margin : this.rate / 2;
      }
    } else if (accepted > 0) {
      next = (accepted / (this.o.windowMs / 1000)) * this.o.margin;
    }
    this.#pauseEnd = now + pauseMs;
    return { cut: next !== undefined && this.#cutTo(now, next), pauseMs };
  }

  #cutTo(now: number, next: number): boolean {
    const floor = Math.min(this.policyRate, 0.1);
    const rate = Math.max(floor, Math.min(this.rate, next));
    if (rate >= this.rate) return false;
    this.rate = rate;
    this.#lastCutAt = now;
    this.cuts++;
    return true;
  }

  /** Creep back toward the policy after quiet periods; returns true if anything changed. */
  decay(now: number): boolean {
    let changed = false;
    while (this.connections < this.policyConnections && now - this.#connectionsSince >= this.o.decayMs) {
      this.connections++;
      this.#connectionsSince = this.#connectionsSince === -Infinity ? now : this.#connectionsSince + this.o.decayMs;
      changed = true;
    }
    while (this.rate < this.policyRate && now - this.#rateSince >= this.o.decayMs) {
      this.rate = Math.min(this.policyRate, this.rate * 1.1);
      this.#rateSince = this.#rateSince === -Infinity ? now : this.#rateSince + this.o.decayMs;
      changed = true;
    }
    return changed;
  }

  #trim(now: number): void {
    const from = now - this.o.windowMs;
    let i = 0;
    while (i < this.#accepted.length && (this.#accepted[i] ?? 0) < from) i++;
    if (i > 0) this.#accepted.splice(0, i);
    if (this.#accepted.length > 4096) this.#accepted.splice(0, this.#accepted.length - 4096);
  }
}
