import { createActor, type AnyActorRef } from "xstate";
import type { Logger } from "pino";
import { TIERS, type DestinationStats, type Policy, type TierName } from "../../protocol/index.ts";
import { traceLogFields } from "../../protocol/telemetry/index.ts";
import type { MxHost } from "../routing/index.ts";
import { Aimd } from "./aimd.ts";
import type { Job, PostponeReason, SendResult } from "./job.ts";
import { destinationMachine, type DestinationState } from "./machine.ts";
import { TierQueue } from "./tier-queue.ts";
import { TokenBucket } from "./token-bucket.ts";

/** xstate's clock (SimulatedClock in unit tests). */
export type Clock = NonNullable<NonNullable<Parameters<typeof createActor>[1]>["clock"]>;

export interface DestinationDeps {
  send(job: Job, host: MxHost, policy: Policy): Promise<SendResult>;
  settle(job: Job, result: SendResult): Promise<void>;
  /** Hand a job back to JetStream for `delayMs` without an attempt. */
  postpone(job: Job, delayMs: number, why: PostponeReason): void;
  retired(key: string): void;
  now(): number;
  clock?: Clock;
  ackWaitMs: number;
  idleMs: number;
  logger: Logger;
  metrics?: { throttled(key: string): void; delivered(key: string, tier: TierName): void };
}

/**
 * One destination actor: a budget (token bucket + connection cap, adapted by AIMD), a
 * bounded local queue per tier, and an xstate machine that says whether it may send.
 * Everything it holds is bounded: beyond what it can send within half an ack-wait, jobs
 * go back to JetStream with a delay that schedules them when their turn would come.
 */
export class DestinationActor {
  readonly key: string;
  #hosts: MxHost[];
  #hostIndex = 0;
  #policy: Policy;
  #bucket: TokenBucket;
  #aimd: Aimd;
  #queue = new TierQueue<Job>();
  #inFlight = 0;
  #sending = new Set<Job>();
  #settling = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #horizon: Record<TierName, number> = { critical: 0, transactional: 0, bulk: 0 };
  #actor: AnyActorRef;
  #state: DestinationState = "idle";
  #suspendedUntil = 0;
  #failedSinceSuccess = false;
  #counts = { delivered: 0, deferred: 0, bounced: 0 };

  constructor(key: string, hosts: MxHost[], policy: Policy, private readonly deps: DestinationDeps) {
    this.key = key;
    this.#hosts = hosts;
    this.#policy = policy;
    const now = deps.now();
    this.#bucket = new TokenBucket(this.#limits(policy.messagesPerSecond), now);
    this.#aimd = new Aimd(policy.messagesPerSecond, policy.maxConnections);
    this.#actor = createActor(destinationMachine, {
      input: {
        suspendAfterFailures: policy.suspendAfterFailures,
        suspendMs: policy.suspendSeconds * 1000,
        throttlePauseMs: 1000,
        idleMs: deps.idleMs,
        hooks: { suspended: () => this.#onSuspended(), resumed: () => this.#pump() },
      },
      ...(deps.clock ? { clock: deps.clock } : {}),
    });
    this.#actor.subscribe((snapshot: { value: unknown; status: string }) => {
      const previous = this.#state;
      this.#state = snapshot.value as DestinationState;
      if (snapshot.status === "done") this.deps.retired(this.key);
      else if (previous !== this.#state && (this.#state === "sending" || this.#state === "probing")) this.#pump();
    });
    this.#actor.start();
  }

  get state(): DestinationState {
    return this.#state;
  }
  get retired(): boolean {
    return this.#state === "retired";
  }

  /** Take a job, or hand it back at once (suspended, or more than it can send in time). */
  offer(job: Job): void {
    const now = this.deps.now();
    const tier = job.message.tier;
    if (this.#state === "suspended") {
      this.#counts.deferred++;
      this.deps.postpone(job, Math.max(1000, this.#suspendedUntil - now), "suspended");
      return;
    }
    const rate = Math.max(this.#aimd.rate, 0.01);
    const capacity = Math.max(4, Math.floor((rate * this.deps.ackWaitMs) / 2000));
    if (this.#queue.sizeOf(tier) >= capacity) {
      // Schedule the overflow at the time its turn would come, so it returns about once.
      const start = Math.max(this.#horizon[tier], now + (this.#queue.sizeOf(tier) / rate) * 1000);
      this.#horizon[tier] = start + 1000 / rate;
      this.deps.postpone(job, Math.min(3_600_000, Math.round(start - now)), "overflow");
      return;
    }
    job.queuedAt = now;
    job.touchedAt = now;
    this.#queue.push(tier, job);
    if (this.#state === "idle") this.#actor.send({ type: "WORK" });
    this.#pump();
  }

  /** New policy or new hosts (live policy change, DNS refresh). */
  reconfigure(policy: Policy, hosts?: MxHost[]): void {
    if (hosts) this.#hosts = hosts;
    this.#policy = policy;
    this.#aimd.reconfigure(policy.messagesPerSecond, policy.maxConnections);
    this.#bucket.setLimits(this.#limits(this.#aimd.rate), this.deps.now());
    this.#actor.send({ type: "RECONFIGURE", suspendAfterFailures: policy.suspendAfterFailures, suspendMs: policy.suspendSeconds * 1000 });
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
    this.#actor.stop();
  }

  get held(): number {
    return this.#queue.size + this.#inFlight;
  }

  stats(): DestinationStats {
    const queued = Object.fromEntries(TIERS.map((t) => [t, this.#queue.sizeOf(t)])) as Record<TierName, number>;
    return {
      key: this.key,
      state: this.#state,
      ratePerSecond: Math.round(this.#aimd.rate * 100) / 100,
      configuredRatePerSecond: this.#policy.messagesPerSecond,
      connections: this.#inFlight,
      maxConnections: this.#policy.maxConnections,
      queued,
      delivered: this.#counts.delivered,
      deferred: this.#counts.deferred,
      bounced: this.#counts.bounced,
      throttleEvents: this.#aimd.throttleEvents,
    };
  }

  #limits(rate: number) {
    return { ratePerSecond: rate, burst: this.#policy.burst, perMinute: this.#policy.messagesPerMinute, perHour: this.#policy.messagesPerHour };
  }

  #pump(): void {
    const state = this.#state;
    if (state !== "sending" && state !== "probing" && state !== "idle") return;
    const cap = state === "probing" ? 1 : this.#aimd.connections;
    while (this.#queue.size > 0 && this.#inFlight < cap) {
      const now = this.deps.now();
      if (!this.#bucket.tryTake(now)) {
        this.#arm(this.#bucket.waitMs(now));
        return;
      }
      const job = this.#queue.shift();
      if (job === undefined) break;
      this.#inFlight++;
      this.#sending.add(job);
      void this.#run(job);
    }
    this.#afterChange();
  }

  #arm(ms: number): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, Math.max(1, ms));
  }

  #afterChange(): void {
    if (this.#queue.size === 0 && this.#inFlight === 0 && (this.#state === "sending" || this.#state === "probing")) {
      this.#actor.send({ type: "DRAINED" });
    }
  }

  async #run(job: Job): Promise<void> {
    const host = this.#hosts[this.#hostIndex % this.#hosts.length] as MxHost;
    let result: SendResult;
    try {
      result = await this.deps.send(job, host, this.#policy);
    } catch (e) {
      // send() reports SMTP outcomes as results; a throw is a bug or a broken payload: retried.
      result = { kind: "failed", mx: host.host, classification: { outcome: "retry", category: "other", throttle: false }, error: e instanceof Error ? e.message : String(e) };
    }
    this.#inFlight--;
    this.#sending.delete(job);
    this.#observe(result);
    const settling = this.deps.settle(job, result).catch((e: unknown) => {
      this.deps.logger.error({ err: e, messageId: job.message.id, ...traceLogFields(job.msg.headers) }, "settling a delivery outcome failed; JetStream will redeliver");
    });
    this.#settling.add(settling);
    void settling.finally(() => this.#settling.delete(settling));
    this.#pump();
  }

  #observe(result: SendResult): void {
    const now = this.deps.now();
    if (result.kind === "delivered") {
      this.#counts.delivered++;
      this.#aimd.succeeded();
      if (this.#aimd.rate < this.#aimd.configured.rate || this.#bucket.ratePerSecond !== this.#aimd.rate) this.#bucket.setLimits(this.#limits(this.#aimd.rate), now);
      this.#success();
      return;
    }
    const c = result.classification;
    if (c.outcome === "bounce") this.#counts.bounced++;
    else this.#counts.deferred++;
    if (c.throttle) {
      if (this.#aimd.throttled(now)) {
        this.deps.metrics?.throttled(this.key);
        this.#bucket.setLimits(this.#limits(this.#aimd.rate), now);
        this.deps.logger.info({ destination: this.key, rate: this.#aimd.rate, connections: this.#aimd.connections }, "destination asked to slow down");
      }
      this.#failedSinceSuccess = true;
      this.#actor.send({ type: "THROTTLED" });
    } else if (c.category === "network") {
      this.#hostIndex++; // next MX host for the next try
      this.#failedSinceSuccess = true;
      this.#actor.send({ type: "NETWORK_FAILURE" });
    } else {
      this.#success(); // the server answered: the connection path is healthy
    }
  }

  // The machine only cares about a success after a failure (reset the count) or while
  // probing; skipping the others keeps an xstate step off the per-message path.
  #success(): void {
    if (this.#failedSinceSuccess || this.#state === "probing" || this.#state === "throttled") {
      this.#failedSinceSuccess = false;
      this.#actor.send({ type: "SUCCESS" });
    }
  }

  #onSuspended(): void {
    this.#suspendedUntil = this.deps.now() + this.#policy.suspendSeconds * 1000;
    const jobs = this.#queue.extract(() => true);
    this.deps.logger.warn({ destination: this.key, held: jobs.length, seconds: this.#policy.suspendSeconds }, "destination suspended after repeated connection failures");
    for (const job of jobs) {
      this.#counts.deferred++;
      this.deps.postpone(job, this.#policy.suspendSeconds * 1000, "suspended");
    }
  }
}
