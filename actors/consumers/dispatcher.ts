import type { JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { simulatedSuppression } from "../simulator/index.ts";
import { DeliveryMessage, decode, SIMULATOR_DOMAIN, STREAMS, type DestinationStats, type Policy, type TierName } from "../../protocol/index.ts";
import { deliveriesOf } from "../../protocol/io/index.ts";
import { DestinationActor, type Clock } from "../domain/destination.ts";
import { DomainMemo } from "../domain-memo.ts";
import type { Job, PostponeReason, SendResult } from "../domain/job.ts";
import { deliveryMetrics } from "../metrics.ts";
import type { PolicyBook } from "../policies/index.ts";
import type { MxHost, Router } from "../routing/index.ts";
import type { Settler } from "../settle.ts";
import type { SuppressionCache } from "../suppression-cache.ts";
import type { HeldWork } from "./held-work.ts";
import type { ChosenSource, EgressDeps } from "../egress/index.ts";
import type { Parking } from "./parking.ts";

export interface DispatcherDeps {
  router: Router;
  /** The node's ledger of held jobs; the settler releases what is settled. */
  held: HeldWork;
  book: PolicyBook;
  settler: Settler;
  /** Overflow of slow destinations goes here (MAIL_PARKED) instead of back with nak(delay). */
  parking?: Parking;
  suppressions: SuppressionCache;
  send(destinationKey: string, job: Job, host: MxHost, policy: Policy, source?: ChosenSource): Promise<SendResult>;
  /** Egress sources and pools (issue 19); without it every send leaves from the host's default address. */
  egress?: EgressDeps;
  maxAgeMs: number;
  ackWaitMs: number;
  /** MAIL_SEND's max_deliver: a message taken back from MAIL_PARKED past it (counting its earlier deliveries) is dead-lettered. */
  maxDeliveries: number;
  /** A destination with nothing to do for this long is retired (its memory freed). */
  idleMs?: number;
  logger: Logger;
  clock?: Clock;
}

/**
 * From a pulled JetStream message to a destination actor: validate, check suppression
 * and age, route (MX or SLUICE_ROUTES), and offer it to the destination's actor. Counts
 * what it holds per partition and tier, so partitions can be released cleanly.
 */
export class Dispatcher {
  readonly destinations = new Map<string, DestinationActor>();
  #owned = new Set<number>();
  #keepAlive: NodeJS.Timeout;
  #unsubscribePolicies: () => void;

  constructor(private readonly d: DispatcherDeps) {
    const every = Math.max(1000, Math.floor(d.ackWaitMs / 3));
    this.#keepAlive = setInterval(() => {
      const now = Date.now();
      for (const dest of this.destinations.values()) dest.keepAlive(now, every);
    }, every);
    this.#keepAlive.unref();
    this.#unsubscribePolicies = d.book.onChange(() => {
      for (const dest of this.destinations.values()) dest.reconfigure(d.book.resolve(dest.key).policy);
    });
  }

  #domains = new DomainMemo(50_000, "");

  setOwned(partitions: Iterable<number>): void {
    this.#owned = new Set(partitions);
    this.d.parking?.setOwned(this.#owned);
  }

  /** For parking: how much a destination's queue can take back now (undefined: no actor for it here). */
  roomOf(key: string): { free: number; capacity: number } | undefined {
    const dest = this.destinations.get(key);
    return dest === undefined || dest.retired ? undefined : dest.parkRoom();
  }

  /**
   * Take one pulled message. Never throws; every path ends in ack, nak or term. Resolves
   * once the message is in its destination's queue or settled (parking counts on it).
   */
  handle(msg: JsMsg, tier: TierName, partition: number): Promise<void> {
    const decoded = decode(DeliveryMessage, msg.data, "delivery message");
    if (!decoded.ok) {
      return this.d.settler.invalid(msg, decoded.error.message).catch((e: unknown) => this.d.logger.error({ err: e }, "could not dead-letter an invalid message"));
    }
    const message = decoded.value;
    const domain = this.#domains.of(message.rcptTo);
    const job: Job = { message, msg, partition, domain, queuedAt: 0, touchedAt: 0 };
    // Taken back from MAIL_PARKED: its deliveries before it was parked count too.
    if (msg.headers !== undefined) job.deliveries = deliveriesOf(msg);
    this.d.held.hold(job);
    if (job.deliveries !== undefined && job.deliveries > this.d.maxDeliveries && msg.info.stream === STREAMS.parked) {
      // MAIL_SEND's max_deliver (and its dead-letterer) does not see a parked copy's count.
      return this.d.settler.tooManyDeliveries(job).catch((e: unknown) => {
        this.d.held.release(job);
        this.d.logger.error({ err: e, messageId: message.id }, "could not dead-letter a message over max_deliver; JetStream redelivers it");
      });
    }
    return this.#route(job, tier).catch((e: unknown) => {
      this.d.logger.error({ err: e, messageId: message.id }, "dispatch failed; the message goes back to JetStream");
      this.#postpone(job, 5000, "released");
    });
  }

  async #route(job: Job, tier: TierName): Promise<void> {
    const m = job.message;
    if (m.tier !== tier) this.d.logger.warn({ messageId: m.id, subjectTier: tier, tier: m.tier }, "message tier differs from its subject; serving it by its subject");
    if (Date.now() >= m.createdAt + this.d.maxAgeMs) return this.d.settler.expired(job);
    if (m.expiresAt !== undefined && Date.now() >= m.expiresAt) return this.d.settler.pastExpiry(job); // scheduling: expiresAt
    const suppressed = (job.domain === SIMULATOR_DOMAIN ? simulatedSuppression(m.rcptTo) : undefined) ?? (await this.d.suppressions.get(m.tenant, m.rcptTo));
    if (suppressed) return this.d.settler.suppressed(job, suppressed);
    const resolution = await this.d.router.resolve(job.domain);
    if (!resolution.ok) {
      const permanent = resolution.error.kind === "permanent";
      return this.d.settler.outcome(job, {
        kind: "failed",
        mx: undefined,
        classification: { outcome: permanent ? "bounce" : "retry", category: permanent ? "domain_not_found" : "network", throttle: false },
        error: resolution.error.message,
      });
    }
    if (!this.#owned.has(job.partition)) return this.d.settler.postponed(job, 0, "released");
    this.#destination(resolution.target.key, resolution.target.hosts).offer(job);
  }

  #destination(key: string, hosts: MxHost[]): DestinationActor {
    let dest = this.destinations.get(key);
    if (dest && !dest.retired) return dest;
    dest = new DestinationActor(key, hosts, this.d.book.resolve(key).policy, {
      send: (job, host, policy, source) => this.d.send(key, job, host, policy, source),
      ...(this.d.egress && key !== SIMULATOR_DOMAIN ? { egress: this.d.egress } : {}),
      // Settling's events carry the message's trace on (from its headers); its log lines name it.
      // A settle that fails (NATS unreachable) neither acked nor naked the message: JetStream
      // redelivers it after ack_wait. It must stop counting as held here, or a partition
      // hand-over waiting for held work to settle would wait forever.
      settle: (job, result) =>
        this.d.settler.outcome(job, result).catch((e: unknown) => {
          this.d.held.release(job);
          throw e;
        }),
      postpone: (job, delayMs, why) => this.#postpone(job, delayMs, why),
      ...(this.d.parking ? { park: (job: Job) => this.d.parking?.park(job, key) } : {}),
      expired: (job) =>
        void this.d.settler.pastExpiry(job).catch((e: unknown) => {
          this.d.held.release(job);
          this.d.logger.error({ err: e, messageId: job.message.id }, "could not record an expiry; JetStream redelivers the message after ack_wait");
        }),
      retired: (k) => {
        const current = this.destinations.get(k);
        if (current?.retired) {
          current.stop();
          this.destinations.delete(k);
        }
      },
      now: Date.now,
      ackWaitMs: this.d.ackWaitMs,
      maxAgeMs: this.d.maxAgeMs,
      idleMs: this.d.idleMs ?? 5 * 60_000,
      logger: this.d.logger,
      metrics: { throttled: (k) => deliveryMetrics.throttled.add(1, { domain: k }), delivered: () => undefined },
      ...(this.d.clock ? { clock: this.d.clock } : {}),
    });
    this.destinations.set(key, dest);
    return dest;
  }

  /** Hand back every queued (not sending) job of these partitions. */
  release(partitions: ReadonlySet<number>): void {
    for (const dest of this.destinations.values()) {
      for (const job of dest.release((j) => partitions.has(j.partition))) {
        this.#postpone(job, 0, "released");
      }
    }
  }

  /**
   * Back to JetStream with a delay. A postpone that fails (NATS away, or the expiry it
   * turned into could not be dead-lettered) neither acked nor naked the message: JetStream
   * redelivers it after ack_wait, and here it must stop counting as held, or a partition
   * hand-over waiting for held work would wait forever.
   */
  #postpone(job: Job, delayMs: number, why: PostponeReason): void {
    this.d.settler.postponed(job, delayMs, why).catch((e: unknown) => {
      this.d.held.release(job);
      this.d.logger.error({ err: e, messageId: job.message.id, why }, "postpone failed; JetStream redelivers the message after ack_wait");
    });
  }

  destinationStats(): DestinationStats[] {
    return [...this.destinations.values()].map((d) => d.stats());
  }

  async close(): Promise<void> {
    clearInterval(this.#keepAlive);
    this.d.parking?.close();
    this.#unsubscribePolicies();
    await Promise.all([...this.destinations.values()].map((d) => d.idle()));
    for (const d of this.destinations.values()) d.stop();
    this.destinations.clear();
  }
}
