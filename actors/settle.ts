import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs, NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import {
  Attempt,
  decode,
  encode,
  messageEvent,
  retryDelay,
  seriesTag,
  subjects,
  suppressesAddress,
  type Category,
  type DeadLetter,
  type DeliveryMessage,
  type MailEvent,
  type RetryPolicy,
  type SmtpReply,
  type Suppression,
} from "../protocol/index.ts";
import {
  AckedPublisher,
  addSuppression,
  deadLetterUnreadable,
  holdMessage,
  publishDeadLetter,
  publishEvent,
} from "../protocol/io/index.ts";
import { z } from "zod";
import { deliveriesOfJob, type Job, type PostponeReason, type SendResult } from "./domain/job.ts";
import { deliveryMetrics } from "./metrics.ts";
import { forwardTrace, traceLogFields } from "../protocol/telemetry/index.ts";
import type { SuppressionCache } from "./suppression-cache.ts";

export interface SettleDeps {
  js: JetStreamClient;
  /** When given, events go out through a lighter JetStream publisher on this connection. */
  nc?: NatsConnection;
  jsm: JetStreamManager;
  attempts: KV;
  suppressions: KV;
  suppressionCache: SuppressionCache;
  retry: RetryPolicy;
  logger: Logger;
  now?: () => number;
  /** Called once a job is acked or naked (the node counts what it holds). */
  released(job: Job): void;
}

const AttemptList = z.array(Attempt);
/** A replayed message is a new attempt series: its history starts empty, under a key of its own. */
const attemptsKey = (m: DeliveryMessage): string => m.id + seriesTag(m.replay);
/**
 * A released message goes back with a short delay rather than nak(0): on nats-server 2.9.10
 * a burst of plain naks while the consumer has no pull waiting was seen to redeliver one
 * message twice and park another until its ack-wait (test: setPartitions hands back…).
 */
const RELEASE_NAK_DELAY_MS = 200;
const MAX_KEPT_ATTEMPTS = 200;
/** As long as js.publish waits for a PubAck by default. */
const EVENT_ACK_TIMEOUT_MS = 5000;

/**
 * The one seam where an outcome becomes events, dead letters, suppressions and an
 * ack or nak. Order matters: the durable record (attempt history, dead letter, event) is
 * written first and the JetStream message settled last, so a crash in between only
 * repeats work (events and dead letters have deterministic ids and are stored once).
 */
export class Settler {
  #queued: (() => void)[] = [];
  #publisher: AckedPublisher | undefined;

  constructor(private readonly d: SettleDeps) {
    if (d.nc) this.#publisher = new AckedPublisher(d.nc);
  }

  // js.publish builds Error objects (stack traces) and a reply-mux entry per call, ~7% of
  // the node's CPU per delivered message; the acked publisher does the same job without them.
  // Each event is its own group: its message is settled on its own PubAck.
  #publishEvent(event: MailEvent, headers: MsgHdrs | undefined): Promise<void> {
    if (this.#publisher === undefined) return publishEvent(this.d.js, event, headers);
    return this.#publisher.publish([{ subject: subjects.event(event.tenant, event.type), data: encode(event), msgID: event.id, headers }], EVENT_ACK_TIMEOUT_MS);
  }

  /**
   * Events of outcomes settled in the same event-loop turn are published together, so that
   * nats.js writes them to its socket at once: each SMTP reply arrives in its own turn, and
   * publishing on the spot cost one socket write per message (the largest item of the
   * node's CPU profile). Each event is still awaited on its own before its message is acked.
   */
  #publishSoon(event: MailEvent, headers: ReturnType<typeof forwardTrace>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queued.push(() => this.#publishEvent(event, headers).then(resolve, reject));
      if (this.#queued.length === 1) {
        setImmediate(() => {
          const queued = this.#queued;
          this.#queued = [];
          for (const publish of queued) publish();
        });
      }
    });
  }

  #now(): number {
    return (this.d.now ?? Date.now)();
  }

  /** Attempts made before this delivery: from the message, plus the KV history if it was redelivered. */
  async priorAttempts(job: Job): Promise<Attempt[]> {
    const own = job.message.attempts;
    if (deliveriesOfJob(job) <= 1) return own;
    const e = await this.d.attempts.get(attemptsKey(job.message));
    if (e === null || e.operation !== "PUT") return own;
    const decoded = decode(AttemptList, e.value, "attempts");
    return decoded.ok ? [...own, ...decoded.value] : own;
  }

  /**
   * Record an outcome. If recording fails (NATS unreachable), a delivered message is still
   * acked — the remote said 250, and a redelivery would send it twice; only its event is
   * lost (logged). Anything else is left to JetStream, which redelivers it after the
   * ack-wait; either way the node stops counting it as held.
   */
  async outcome(job: Job, result: SendResult): Promise<void> {
    try {
      await this.#outcome(job, result);
    } catch (e) {
      if (result.kind === "delivered") {
        this.d.logger.error({ err: e, messageId: job.message.id, ...traceLogFields(job.msg.headers) }, "delivered but its event could not be published; acked anyway");
        this.#ack(job);
      } else {
        this.d.logger.error({ err: e, messageId: job.message.id, ...traceLogFields(job.msg.headers) }, "could not record a failed attempt; JetStream will redeliver after the ack-wait");
        this.d.released(job);
      }
    }
  }

  async #outcome(job: Job, result: SendResult): Promise<void> {
    const now = this.#now();
    if (result.kind === "delivered") {
      await this.#event(job, "delivered", (await this.#attemptNumber(job)) + 1, { mx: result.mx, reply: result.reply });
      deliveryMetrics.delivered.add(1, { tier: job.message.tier, domain: job.domain });
      this.#ack(job);
      return;
    }
    const attempt: Attempt = {
      at: now,
      ...(result.mx !== undefined ? { mx: result.mx } : {}),
      ...(result.reply ? { code: result.reply.code, text: result.reply.text } : { text: result.error.slice(0, 1000) }),
      ...(result.reply?.enhanced ? { enhanced: result.reply.enhanced } : {}),
      outcome: result.classification.outcome,
      category: result.classification.category,
    };
    const attempts = [...(await this.priorAttempts(job)), attempt];
    const n = attempts.length;
    const extra = { mx: result.mx, reply: result.reply, category: result.classification.category };
    if (result.classification.outcome === "bounce") {
      await this.#bounce(job, attempts, extra);
      return;
    }
    const delay = result.retryInMs ?? retryDelay(this.d.retry, n);
    // Scheduling: a retry that would come after expiresAt is never made.
    if (job.message.expiresAt !== undefined && now + delay >= job.message.expiresAt) {
      await this.pastExpiry(job, { attempts: n, last: attempt });
      return;
    }
    const deadline = job.message.createdAt + this.d.retry.maxAgeMs;
    if (now + delay > deadline) {
      await this.#deadLetter(job, attempts, { code: "max_age", message: `not delivered within the maximum age; last reply: ${attempt.text}`, category: attempt.category }, "failed");
      return;
    }
    await this.d.attempts.put(attemptsKey(job.message), encode(attempts.slice(-MAX_KEPT_ATTEMPTS)));
    await this.#event(job, "deferred", n, { ...extra, nextAttemptAt: now + delay });
    deliveryMetrics.deferred.add(1, { tier: job.message.tier, domain: job.domain, category: attempt.category ?? "other" });
    this.#nak(job, delay);
  }

  /** Back to JetStream without an attempt (destination busy or suspended, partition released). */
  async postponed(job: Job, delayMs: number, why: PostponeReason): Promise<void> {
    if (why === "held") return this.#hold(job);
    // Every return to JetStream counts toward the consumer's max_deliver. A suspended
    // destination's backlog therefore follows the retry schedule by delivery count, so that
    // a long outage spends about as many deliveries as real retries would (the limit is
    // sized from the schedule), instead of one per suspension period.
    if (why === "suspended") delayMs = Math.max(delayMs, retryDelay(this.d.retry, deliveriesOfJob(job)));
    if (why !== "released" && this.#now() + delayMs > job.message.createdAt + this.d.retry.maxAgeMs) {
      await this.expired(job);
      return;
    }
    if (why !== "released" && job.message.expiresAt !== undefined && this.#now() + delayMs >= job.message.expiresAt) {
      await this.pastExpiry(job);
      return;
    }
    deliveryMetrics.postponed.add(1, { reason: why });
    this.#nak(job, why === "released" ? Math.max(RELEASE_NAK_DELAY_MS, delayMs) : delayMs);
  }

  /** Off MAIL_SEND into MAIL_HELD (a paused tenant's bulk), until `sluice tenants resume`. */
  async #hold(job: Job): Promise<void> {
    const m = job.message;
    await holdMessage(this.d.js, { tenant: m.tenant, tier: m.tier, partition: job.partition, id: m.id, data: job.msg.data, deliveryCount: deliveriesOfJob(job) });
    deliveryMetrics.postponed.add(1, { reason: "held" });
    this.#ack(job);
  }

  /** The message is past its maximum age before this attempt. */
  async expired(job: Job): Promise<void> {
    const attempts = await this.priorAttempts(job);
    const last = attempts[attempts.length - 1];
    await this.#deadLetter(job, attempts, { code: "max_age", message: `not delivered within the maximum age${last ? `; last reply: ${last.text}` : ""}`, ...(last?.category ? { category: last.category } : {}) }, "failed");
  }

  /** Taken back from MAIL_PARKED with more deliveries than MAIL_SEND's max_deliver allows (it may crash its worker). */
  async tooManyDeliveries(job: Job): Promise<void> {
    const attempts = await this.priorAttempts(job);
    await this.#deadLetter(job, attempts, { code: "max_deliveries", message: `delivered ${deliveriesOfJob(job)} times without being settled (it may crash its worker)` });
  }

  /**
   * Scheduling: the message's expiresAt has passed, or would before its next attempt. It ends
   * `expired` (terminal: the client asked for nothing after that instant), not dead-lettered.
   */
  async pastExpiry(job: Job, after?: { attempts: number; last: Attempt }): Promise<void> {
    const n = after?.attempts ?? (await this.priorAttempts(job)).length;
    const last = after?.last;
    const extra = last === undefined ? {} : { mx: last.mx, category: last.category ?? "other", reply: last.code === undefined ? undefined : { code: last.code, text: last.text, ...(last.enhanced ? { enhanced: last.enhanced } : {}) } };
    await this.#event(job, "expired", n, { ...extra, reason: "expires_at" });
    deliveryMetrics.expired.add(1, { tier: job.message.tier });
    this.#ack(job);
  }

  async suppressed(job: Job, s: Suppression): Promise<void> {
    await this.#event(job, "suppressed", 0, { reason: s.reason });
    deliveryMetrics.suppressed.add(1, { tier: job.message.tier });
    this.#ack(job);
  }

  /**
   * A message that cannot be read (not JSON, or not a DeliveryMessage): dead-lettered raw
   * with reason `invalid`, under its tenant and id when they can be recovered (with a
   * `dead_lettered` event, so its status ends), else under `_unknown`. Then acked: in a
   * work queue that removes it. If the dead letter cannot be written, JetStream redelivers.
   */
  async invalid(msg: JsMsg, error: string): Promise<void> {
    const dl = await deadLetterUnreadable(this.d.js, { subject: msg.subject, seq: msg.seq, data: msg.data, error, now: this.#now() });
    this.d.logger.warn({ subject: msg.subject, seq: msg.seq, messageId: dl.id, tenant: dl.tenant, error }, "unreadable message on MAIL_SEND dead-lettered");
    deliveryMetrics.deadLettered.add(1, { reason: "invalid" });
    msg.ack();
  }

  async #bounce(job: Job, attempts: Attempt[], extra: { mx?: string | undefined; reply?: SmtpReply | undefined; category: Category }): Promise<void> {
    const m = job.message;
    await this.#event(job, "bounced", attempts.length, extra);
    deliveryMetrics.bounced.add(1, { tier: m.tier, domain: job.domain, category: extra.category });
    // The mailbox or its domain does not exist: suppress, so the sender's reputation stops
    // paying for it. One shared rule (protocol/classify.ts) for what a hard bounce is.
    if (suppressesAddress({ outcome: "bounce", category: extra.category, throttle: false })) {
      const s: Suppression = { address: m.rcptTo.toLowerCase(), reason: "hard_bounce", detail: extra.reply ? `${extra.reply.code} ${extra.reply.text}`.slice(0, 1000) : undefined, at: this.#now() };
      if (s.detail === undefined) delete s.detail;
      await addSuppression(this.d.suppressions, m.tenant, s);
      this.d.suppressionCache.remember(m.tenant, m.rcptTo, s);
    }
    const last = attempts[attempts.length - 1];
    await this.#deadLetter(job, attempts, { code: "bounce", message: last ? `${last.code ?? ""} ${last.text}`.trim() : "permanent failure", category: extra.category });
  }

  async #deadLetter(job: Job, attempts: Attempt[], reason: DeadLetter["reason"], failedEvent?: "failed"): Promise<void> {
    const m = job.message;
    const dl: DeadLetter = {
      v: 1,
      id: m.id,
      tenant: m.tenant,
      at: this.#now(),
      reason,
      message: { ...m, attempts: attempts.slice(-MAX_KEPT_ATTEMPTS) },
      attempts,
    };
    await publishDeadLetter(this.d.js, dl);
    if (failedEvent) await this.#event(job, failedEvent, attempts.length, { reason: reason.code, ...(reason.category ? { category: reason.category } : {}) });
    await this.#event(job, "dead_lettered", attempts.length, { reason: reason.code, ...(reason.category ? { category: reason.category } : {}) });
    deliveryMetrics.deadLettered.add(1, { tier: m.tier, reason: reason.code });
    this.#ack(job);
  }

  async #attemptNumber(job: Job): Promise<number> {
    return deliveriesOfJob(job) <= 1 ? job.message.attempts.length : (await this.priorAttempts(job)).length;
  }

  async #event(
    job: Job,
    type: MailEvent["type"],
    attempt: number,
    extra: { mx?: string | undefined; reply?: SmtpReply | undefined; category?: string; reason?: string; nextAttemptAt?: number },
  ): Promise<void> {
    const m = job.message;
    const event = { ...messageEvent(m, type, this.#now(), attempt), attempt };
    if (extra.mx !== undefined) event.mx = extra.mx;
    if (extra.reply !== undefined) event.reply = extra.reply;
    if (extra.category !== undefined) event.category = extra.category;
    if (extra.reason !== undefined) event.reason = extra.reason;
    if (extra.nextAttemptAt !== undefined) event.nextAttemptAt = extra.nextAttemptAt;
    await this.#publishSoon(event, forwardTrace(job.msg.headers));
  }

  #ack(job: Job): void {
    job.msg.ack();
    this.d.released(job);
  }

  #nak(job: Job, delayMs: number): void {
    job.msg.nak(delayMs);
    this.d.released(job);
  }
}

export type { DeliveryMessage };

