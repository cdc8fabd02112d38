import { createActor } from "xstate";
import type { Logger } from "pino";
import { errorMessage, TIERS, type DestinationStats, type Policy, type SourceStats, type TierName } from "../../protocol/index.ts";
import { traceLogFields } from "../../protocol/telemetry/index.ts";
import type { MxHost } from "../routing/index.ts";
import type { Job, PostponeReason, SendResult } from "./job.ts";
import { DEFAULT_LEARNING, LearnedLimits, type LearnedLimitsOptions, type LimitSource } from "./learned-limits.ts";
import { destinationMachine, stateName, type DestinationActorRef, type DestinationState } from "./machine.ts";
import { deliveryMetrics, observeDestinationLimits } from "../metrics.ts";
import { TierQueue } from "./tier-queue.ts";
import { TokenBucket } from "./token-bucket.ts";
import { tenantPaused, tenantWeight } from "../tenants/settings-watch.ts";
import { observeSources, SourceBudgets, type ChosenSource, type EgressDeps } from "../egress/index.ts";

/** Jobs set aside per pump while their pool has no source free (bounds the pump's work). */
const MAX_ASIDE = 32;
const DAY_MS = 86_400_000;

/** xstate's clock (SimulatedClock in unit tests). */
export type Clock = NonNullable<NonNullable<Parameters<typeof createActor>[1]>["clock"]>;

export interface DestinationDeps {
  /** `source`: the egress source to send from (undefined: the host's default address). */
  send(job: Job, host: MxHost, policy: Policy, source?: ChosenSource): Promise<SendResult>;
  settle(job: Job, result: SendResult): Promise<void>;
  /** Hand a job back to JetStream for `delayMs` without an attempt. */
  postpone(job: Job, delayMs: number, why: PostponeReason): void;
  /** Overflow off MAIL_SEND until this queue drains (parking, issue 17); without it, overflow is postponed. */
  park?(job: Job): void;
  /** Scheduling: the job's expiresAt has passed before its attempt could start (terminal `expired`). */
  expired?(job: Job): void;
  retired(key: string): void;
  now(): number;
  clock?: Clock;
  ackWaitMs: number;
  idleMs: number;
  /** SLUICE_MAX_AGE: a job refused for throttling is kept and retried here until then. */
  maxAgeMs?: number;
  /** How limits are learned and decay (tests shorten the periods). */
  learning?: Partial<LearnedLimitsOptions>;
  /** How long without a throttle reply before `throttled` is `sending` again. */
  quietMs?: number;
  logger: Logger;
  /** Egress sources and pools (issue 19); without it every send leaves from the host's default address. */
  egress?: EgressDeps;
  /** A tenant's share of this destination within a tier (default: the live `sluice_tenants` weights). */
  weightOf?: (tenant: string) => number;
  metrics?: {
    throttled(key: string): void;
    delivered(key: string, tier: TierName): void;
    /** Every state change of the machine (tests and the benchmark count them). */
    transition?(key: string, from: DestinationState, to: DestinationState): void;
  };
}

/**
 * One destination actor: a budget (token bucket + connection cap, both learned from the
 * destination's refusals), a bounded local queue per tier, and an xstate machine that
 * decides whether and how much it may send. Everything it holds is bounded: beyond what it
 * can send within half an ack-wait, jobs go back to JetStream with a delay that schedules
 * them when their turn would come.
 *
 * A throttle refusal is not a failed attempt: the job goes back to the front of its local
 * queue and is sent again at the pace the learned limits allow, with no event, no attempt
 * recorded and no JetStream delivery spent (so a throttled message never climbs the retry
 * schedule, and never dead-letters before the max age).
 */
export class DestinationActor {
  readonly key: string;
  #hosts: MxHost[];
  #hostIndex = 0;
  #policy: Policy;
  #bucket: TokenBucket;
  #limits: LearnedLimits;
  #queue: TierQueue<Job>;
  #inFlight = 0;
  #sending = new Set<Job>();
  #settling = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #horizon: Record<TierName, number> = { critical: 0, transactional: 0, bulk: 0 };
  #actor: DestinationActorRef;
  #state: DestinationState = "idle";
  #suspendedUntil = 0;
  #counts = { delivered: 0, deferred: 0, bounced: 0, throttled: 0, transitions: 0 };
  #unobserve: () => void;
  #sources: SourceBudgets | undefined;
  /** Warm-up reservations this actor already waits on (one pump each). */
  #wakeOn = new WeakSet<Promise<void>>();

  constructor(key: string, hosts: MxHost[], policy: Policy, private readonly deps: DestinationDeps) {
    this.key = key;
    this.#hosts = hosts;
    this.#policy = policy;
    this.#queue = new TierQueue<Job>({ tenantOf: (job) => job.message.tenant, weightOf: deps.weightOf ?? tenantWeight });
    const now = deps.now();
    this.#limits = new LearnedLimits(policy.messagesPerSecond, policy.maxConnections, { ...DEFAULT_LEARNING, ...deps.learning });
    this.#bucket = new TokenBucket(this.#bucketLimits(), now);
    this.#actor = createActor(destinationMachine, {
      input: {
        suspendAfterFailures: this.#failuresToSuspend(),
        suspendMs: policy.suspendSeconds * 1000,
        quietMs: deps.quietMs ?? 10_000,
        idleMs: deps.idleMs,
      },
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
    // Emitted effects run once the machine's new snapshot is in place.
    this.#actor.on("suspended", (e) => this.#onSuspended(e.forMs));
    this.#actor.on("canSend", () => this.#pump());
    this.#actor.on("resumed", () => this.deps.logger.info({ destination: this.key }, "destination answers again; circuit closed"));
    this.#actor.on("throttled", () => this.deps.logger.info({ destination: this.key, ...this.#limitFields() }, "destination throttles: sending at the learned pace"));
    this.#actor.on("recovered", () => this.deps.logger.info({ destination: this.key, ...this.#limitFields() }, "destination quiet: no throttle reply for a while"));
    this.#actor.subscribe((snapshot) => {
      const previous = this.#state;
      this.#state = stateName(snapshot);
      if (previous !== this.#state) {
        this.#counts.transitions++;
        this.deps.metrics?.transition?.(this.key, previous, this.#state);
        deliveryMetrics.stateChanges.add(1, { domain: this.key, state: this.#state });
      }
      if (snapshot.status === "done") this.deps.retired(this.key);
    });
    this.#actor.start();
    this.#sources = deps.egress ? new SourceBudgets(key, deps.egress) : undefined;
    const unobserveLimits = observeDestinationLimits(this);
    const unobserveSources = this.#sources ? observeSources(this) : () => false;
    this.#unobserve = () => {
      unobserveLimits();
      unobserveSources();
    };
  }

  get state(): DestinationState {
    return this.#state;
  }
  get retired(): boolean {
    return this.#actor.getSnapshot().status === "done";
  }

  /** Take a job, or hand it back at once (suspended, or more than it can send in time). */
  offer(job: Job): void {
    const now = this.deps.now();
    const tier = job.message.tier;
    if (!this.#actor.getSnapshot().hasTag("accepting")) {
      this.#counts.deferred++;
      this.deps.postpone(job, Math.max(1000, this.#suspendedUntil - now), "suspended");
      return;
    }
    if (tier === "bulk" && tenantPaused(job.message.tenant)) {
      // The reputation breaker paused this tenant: its bulk mail waits off MAIL_SEND.
      this.deps.postpone(job, 0, "held");
      return;
    }
    if (this.#queue.sizeOf(tier) >= this.#capacity()) {
      const pushedBack = this.#overflowVictim(job);
      if (this.deps.park) this.deps.park(pushedBack);
      else this.#postponeOverflow(pushedBack, now);
      if (pushedBack === job) return;
    }
    job.queuedAt = now;
    job.touchedAt = now;
    this.#queue.push(tier, job);
    if (this.#actor.getSnapshot().hasTag("waitsForWork")) this.#actor.send({ type: "WORK" });
    this.#pump();
  }

  /** What one tier's queue holds at most: what it can send within half an ack-wait. */
  #capacity(): number {
    return Math.max(4, Math.floor((Math.max(this.#limits.rate, 0.01) * this.deps.ackWaitMs) / 2000));
  }

  /** Without parking: back to JetStream, scheduled at the time its turn would come, so it returns about once. */
  #postponeOverflow(job: Job, now: number): void {
    const tier = job.message.tier;
    const rate = Math.max(this.#limits.rate, 0.01);
    const start = Math.max(this.#horizon[tier], now + (this.#queue.sizeOf(tier) / rate) * 1000);
    this.#horizon[tier] = start + 1000 / rate;
    this.deps.postpone(job, Math.min(3_600_000, Math.round(start - now)), "overflow");
  }

  /**
   * For parking: free places in the queue (all tiers together, so mail taken back fits
   * whatever its tier) and one tier's capacity. Nothing while it does not accept work.
   */
  parkRoom(): { free: number; capacity: number } {
    const capacity = this.#capacity();
    if (!this.#actor.getSnapshot().hasTag("accepting")) return { free: 0, capacity };
    return { free: Math.max(0, capacity - this.#queue.size), capacity };
  }

  /**
   * A full tier pushes back the newest job of its heaviest tenant, not the newcomer: a
   * tenant with a few messages gets in even behind another's blast. The newcomer itself
   * goes back when its tenant is (about) the heaviest already.
   */
  #overflowVictim(job: Job): Job {
    const tier = job.message.tier;
    const heaviest = this.#queue.heaviest(tier);
    if (heaviest === undefined || heaviest.tenant === job.message.tenant) return job;
    if (heaviest.size <= this.#queue.sizeOfTenant(tier, job.message.tenant) + 1) return job;
    return this.#queue.popNewest(tier, heaviest.tenant) ?? job;
  }

  /** New policy or new hosts (live policy change, DNS refresh). */
  reconfigure(policy: Policy, hosts?: MxHost[]): void {
    if (hosts) this.#hosts = hosts;
    this.#policy = policy;
    this.#limits.reconfigure(policy.messagesPerSecond, policy.maxConnections);
    this.#bucket.setLimits(this.#bucketLimits(), this.deps.now());
    this.#actor.send({ type: "RECONFIGURE", suspendAfterFailures: this.#failuresToSuspend(), suspendMs: policy.suspendSeconds * 1000 });
    this.#pump();
  }

  /** Remove queued (not yet sending) jobs matching `pick`, e.g. of partitions this node gives up. */
  release(pick: (job: Job) => boolean): Job[] {
    const taken = this.#queue.extract(pick);
    this.#afterChange();
    return taken;
  }

  /** Extend the ack deadline of jobs that have waited long in the local queue. */
  keepAlive(now: number, olderThanMs: number): void {
    for (const job of [...this.#queue.items(), ...this.#sending]) {
      if (now - job.touchedAt >= olderThanMs) {
        job.touchedAt = now;
        job.msg.working();
      }
    }
  }

  /** Resolves when nothing is sending or settling. */
  async idle(): Promise<void> {
    while (this.#inFlight > 0 || this.#settling.size > 0) {
      await Promise.all([...this.#settling]);
      if (this.#inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    }
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unobserve();
    this.#actor.stop();
  }

  get held(): number {
    return this.#queue.size + this.#inFlight;
  }

  /** The limits in force now and where they come from (the policy, or learned from refusals). */
  limits(): { connections: number; connectionSource: LimitSource; rate: number; rateSource: LimitSource; policy: { connections: number; rate: number } } {
    this.#decay(this.deps.now());
    const l = this.#limits;
    return { connections: l.connections, connectionSource: l.connectionSource, rate: l.rate, rateSource: l.rateSource, policy: l.policy };
  }

  stats(): DestinationStats {
    const queued = Object.fromEntries(TIERS.map((t) => [t, this.#queue.sizeOf(t)])) as Record<TierName, number>;
    const l = this.limits();
    return {
      key: this.key,
      state: this.#state,
      ratePerSecond: Math.round(l.rate * 100) / 100,
      configuredRatePerSecond: this.#policy.messagesPerSecond,
      connections: this.#inFlight,
      maxConnections: this.#policy.maxConnections,
      connectionLimit: l.connections,
      connectionLimitSource: l.connectionSource,
      rateLimitSource: l.rateSource,
      queued,
      delivered: this.#counts.delivered,
      deferred: this.#counts.deferred,
      bounced: this.#counts.bounced,
      throttleEvents: this.#limits.cuts,
      throttleRefusals: this.#counts.throttled,
      stateChanges: this.#counts.transitions,
      ...(this.#sources ? { sources: this.sourceStats() } : {}),
    };
  }

  /** Per egress source: volume, connections, warm-up day and what is left of today's cap. */
  sourceStats(): SourceStats[] {
    return this.#sources?.stats() ?? [];
  }

  // A circuit opens only when every host failed: with N hosts tried in turn, at least N failures.
  #failuresToSuspend(): number {
    return Math.max(this.#policy.suspendAfterFailures, this.#hosts.length);
  }

  #bucketLimits() {
    const rate = this.#limits.rate;
    // A learned rate gets a burst to match: the policy's burst at a tenth of its rate would
    // overrun the very window the destination measures.
    const burst = this.#limits.rateSource === "learned" ? Math.max(1, Math.min(this.#policy.burst, Math.floor(rate))) : this.#policy.burst;
    return { ratePerSecond: rate, burst, perMinute: this.#policy.messagesPerMinute, perHour: this.#policy.messagesPerHour };
  }

  #decay(now: number): void {
    if (this.#limits.decay(now)) this.#bucket.setLimits(this.#bucketLimits(), now);
  }

  #limitFields() {
    return { connections: this.#limits.connections, rate: Math.round(this.#limits.rate * 100) / 100, refusals: this.#limits.refusals };
  }

  #pump(): void {
    const snapshot = this.#actor.getSnapshot();
    if (!snapshot.hasTag("canSend")) return;
    const now = this.deps.now();
    this.#decay(now);
    const cap = Math.min(this.#limits.connections, snapshot.context.concurrency);
    // Jobs whose pool has no source free this instant step aside, so another pool's mail
    // is not held behind them; a few at most per pump, then they go back to the front in order.
    const aside: Job[] = [];
    while (this.#queue.size > 0 && this.#inFlight < cap && aside.length < MAX_ASIDE) {
      const wait = this.#bucket.waitMs(this.deps.now());
      if (wait > 0) {
        this.#arm(wait);
        break;
      }
      const job = this.#queue.shift();
      if (job === undefined) break;
      // Never an attempt after expiresAt (scheduling), however long the job waited in this queue.
      const expiresAt = job.message.expiresAt;
      if (expiresAt !== undefined && this.deps.expired && this.deps.now() >= expiresAt) {
        this.deps.expired(job);
        continue;
      }
      const source = this.#sourceFor(job);
      if (source === "later") aside.push(job);
      if (source === "later" || source === "postponed") continue;
      this.#bucket.tryTake(this.deps.now());
      this.#inFlight++;
      this.#sending.add(job);
      void this.#run(job, source);
    }
    for (let i = aside.length - 1; i >= 0; i--) this.#queue.unshift((aside[i] as Job).message.tier, aside[i] as Job);
    this.#afterChange();
  }

  /**
   * The egress source of a job, within the destination's budget. "later": its pool has no
   * source free this instant (a timer, the source's next warm-up block or the next finished
   * send pumps again). "postponed": every source of its pool is at its warm-up cap or
   * suspended, so the job goes back to JetStream until more is released, as a suspended
   * destination's mail does (the settler stretches the delay to the retry schedule's step
   * for its delivery count, so a wait of days cannot exhaust max_deliver before max age).
   */
  #sourceFor(job: Job): ChosenSource | undefined | "later" | "postponed" {
    const choice = this.#sources?.choose(job.message.tenant, job.message.tier);
    if (choice === undefined || choice.kind === "default") return undefined;
    if (choice.kind === "source") return choice.source;
    if (choice.kind === "capped") {
      this.#counts.deferred++;
      this.deps.postpone(job, Math.min(DAY_MS, Math.max(1000, choice.forMs)), "suspended");
      return "postponed";
    }
    if (choice.ms !== undefined) this.#arm(choice.ms);
    if (choice.until !== undefined && !this.#wakeOn.has(choice.until)) {
      this.#wakeOn.add(choice.until);
      void choice.until.then(() => this.#pump());
    }
    return "later";
  }

  #arm(ms: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, Math.max(1, ms));
  }

  #afterChange(): void {
    if (this.#queue.size === 0 && this.#inFlight === 0 && this.#actor.getSnapshot().hasTag("drains")) this.#actor.send({ type: "DRAINED" });
  }

  async #run(job: Job, source: ChosenSource | undefined): Promise<void> {
    const host = this.#hosts[this.#hostIndex % this.#hosts.length] as MxHost;
    let result: SendResult;
    try {
      result = await this.deps.send(job, host, this.#policy, source && { ...source, destinationLimit: this.#limits.connections });
    } catch (e) {
      // send() reports SMTP outcomes as results; a throw is a bug or a broken payload: retried.
      result = { kind: "failed", mx: host.host, classification: { outcome: "retry", category: "other", throttle: false }, error: errorMessage(e) };
    }
    this.#inFlight--;
    this.#sending.delete(job);
    const unusable = result.kind === "failed" ? result.sourceUnavailable : undefined;
    if (source) this.#sources?.finished(source.name, unusable !== undefined);
    if (source && unusable !== undefined) {
      // Not the destination's fault and nothing was sent: the source is out (everywhere, or
      // for this destination when only its address family does not fit), the job goes to a sibling.
      if (unusable === "not_on_host") this.deps.egress?.health.suspend(source.name, source.address, result.kind === "failed" ? result.error : "");
      else this.#sources?.exclude(source.name, this.deps.logger, result.kind === "failed" ? result.error : "");
      this.#queue.unshift(job.message.tier, job);
      this.#pump();
      return;
    }
    if (this.#observe(result) && this.#requeue(job)) {
      this.#pump();
      return;
    }
    const settling = this.deps.settle(job, result).catch((e: unknown) => {
      this.deps.logger.error({ err: e, messageId: job.message.id, ...traceLogFields(job.msg.headers) }, "settling a delivery outcome failed; JetStream will redeliver");
    });
    this.#settling.add(settling);
    void settling.finally(() => this.#settling.delete(settling));
    this.#pump();
  }

  /** Back to the front of its queue after a throttle refusal, unless it is at its max age. */
  #requeue(job: Job): boolean {
    const maxAge = this.deps.maxAgeMs;
    if (maxAge !== undefined && this.deps.now() + 1000 / Math.max(this.#limits.rate, 0.01) >= job.message.createdAt + maxAge) return false;
    this.#queue.unshift(job.message.tier, job);
    return true;
  }

  /** Learn from an outcome and tell the machine. Returns true for a throttle refusal. */
  #observe(result: SendResult): boolean {
    const now = this.deps.now();
    if (result.kind === "delivered") {
      this.#counts.delivered++;
      this.#limits.accepted(now);
      if (result.working !== undefined) this.#limits.sessionsWorking(result.working);
      this.#success();
      return false;
    }
    const c = result.classification;
    if (c.throttle) {
      this.#counts.throttled++;
      this.#throttled(now, result);
      this.#actor.send({ type: "THROTTLED" });
      return true;
    }
    if (c.outcome === "bounce") this.#counts.bounced++;
    else this.#counts.deferred++;
    if (result.reply === undefined && (c.category === "network" || c.category === "tls_required")) {
      this.#hostIndex++; // next MX host for the next try
      this.#actor.send({ type: "NETWORK_FAILURE" });
    } else {
      this.#success(); // the server answered: the connection path is healthy
    }
    return false;
  }

  #throttled(now: number, result: SendResult & { kind: "failed" }): void {
    let cut: boolean;
    if (result.limit === "connections") {
      // What is open and working now is what the destination allows.
      cut = this.#limits.connectionRefused(now, result.working ?? this.#inFlight);
    } else {
      const r = this.#limits.rateRefused(now);
      cut = r.cut;
      if (cut) this.#bucket.setLimits(this.#bucketLimits(), now);
      if (r.pauseMs > 0) this.#bucket.pause(now, r.pauseMs);
    }
    if (cut) {
      this.deps.metrics?.throttled(this.key);
      this.deps.logger.info({ destination: this.key, limit: result.limit ?? "rate", ...this.#limitFields(), reply: result.error }, "destination refused for a limit; learned a lower one");
    }
  }

  // The machine only cares about a success after a network failure (reset the count) or
  // while probing; skipping the others keeps an xstate step off the per-message path.
  #success(): void {
    const snapshot = this.#actor.getSnapshot();
    if (snapshot.context.failures > 0 || snapshot.hasTag("probe")) this.#actor.send({ type: "SUCCESS" });
  }

  #onSuspended(forMs: number): void {
    this.#suspendedUntil = this.deps.now() + forMs;
    const jobs = this.#queue.extract(() => true);
    this.deps.logger.warn({ destination: this.key, held: jobs.length, seconds: forMs / 1000 }, "destination suspended: it could not be reached");
    for (const job of jobs) {
      this.#counts.deferred++;
      this.deps.postpone(job, forMs, "suspended");
    }
  }
}
