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
  #acceptedSinceCut = true;
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
    if (this.#accepted.length > 4096 || (this.#accepted[0] ?? now) < now - this.o.windowMs) this.#trim(now);
    this.#acceptedSinceCut = true;
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
   * nothing: 1 s, doubling (up to half the window) while refusals follow one another with no
   * acceptance in between (the destination's window has not rolled over; anything sent
   * before it does is refused). Refusals within a second of the last counted one answer
   * sends that were already under way: they count once.
   */
  rateRefused(now: number): { cut: boolean; pauseMs: number } {
    this.refusals++;
    this.#rateSince = now;
    let pauseMs = 0;
    if (now >= this.#streakAt) {
      this.#streak++;
      pauseMs = Math.min(this.o.windowMs / 2, 1000 * 2 ** (this.#streak - 1));
      this.#streakAt = now + Math.max(1000, pauseMs);
    }
    return { cut: this.#cutRate(now), pauseMs };
  }

  #cutRate(now: number): boolean {
    if (!this.#acceptedSinceCut) return false;
    this.#trim(now);
    const measured = this.#accepted.length / (this.o.windowMs / 1000);
    // Nothing accepted in the window: no measure, so halve (and never below a floor).
    const next = measured > 0 ? measured * this.o.margin : this.rate / 2;
    const floor = Math.min(this.policyRate, 0.1);
    const rate = Math.max(floor, Math.min(this.rate, next));
    this.#acceptedSinceCut = false;
    if (rate >= this.rate) return false;
    this.rate = rate;
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
