import type { ConsumerMessages, JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { metrics } from "@opentelemetry/api";
import { decode, emptyCounts, judge, MailEvent, STREAMS, windowTotals, type BreakerState, type HealthCounts } from "../../protocol/index.ts";
import { addHealthCounts, getBreaker, getTenantSettings, setBreaker, TENANT_HEALTH_CONSUMER } from "../../protocol/io/index.ts";

const meter = metrics.getMeter("sluice");
const bounceRate = meter.createGauge("sluice_tenant_bounce_rate", { description: "A tenant's hard bounces over recipients sent, last 24 h (as last judged by this node)" });
const complaintRate = meter.createGauge("sluice_tenant_complaint_rate", { description: "A tenant's complaints over recipients sent, last 24 h (as last judged by this node)" });

export interface TenantHealthDeps {
  js: JetStreamClient;
  tenants: KV;
  counters: KV;
  logger: Logger;
  flushMs: number;
}

/**
 * The reputation breaker's reader (issue 16): a share of the `tenant_health` consumer on
 * MAIL_EVENTS, counting delivered, bounced (at the attempt or async) and complained. Counts are
 * summed in memory and, every flushMs, added to each tenant's 24 h window in KV by
 * compare-and-set (several nodes add at once); the window is then judged against the
 * tenant's thresholds and the breaker state written when it changes. `paused` is only
 * lifted by `sluice tenants resume`. Events are acked once their counts are flushed, so a
 * crash counts some events twice rather than losing them.
 */
export class TenantHealth {
  #pending = new Map<string, HealthCounts>();
  #unacked: { ack(): void }[] = [];
  #messages: ConsumerMessages | undefined;
  #timer: NodeJS.Timeout | undefined;
  #loop: Promise<void> = Promise.resolve();
  #flushing: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(private readonly d: TenantHealthDeps) {}

  start(): void {
    this.#loop = this.#consume().catch((err: unknown) => this.d.logger.warn({ err }, "tenant health reader ended; the breaker is not judging on this node"));
    this.#timer = setInterval(() => void this.flush(), this.d.flushMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#messages?.stop();
    await this.#loop;
    await this.flush();
  }

  async #consume(): Promise<void> {
    const consumer = await this.d.js.consumers.get(STREAMS.events, TENANT_HEALTH_CONSUMER);
    if (this.#stopped) return;
    this.#messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of this.#messages) {
      const decoded = decode(MailEvent, m.data, "event");
      if (decoded.ok) this.#count(decoded.value);
      this.#unacked.push(m);
    }
  }

  #count(e: MailEvent): void {
    if (e.type !== "delivered" && e.type !== "bounced" && e.type !== "complained") return;
    const c = this.#pending.get(e.tenant) ?? emptyCounts();
    if (e.type === "delivered") c.sent++;
    else if (e.type === "bounced") {
      c.bounced++;
      if (e.async !== true) c.sent++; // refused at the attempt: sent, not delivered
    } else if (e.type === "complained") c.complained++;
    this.#pending.set(e.tenant, c);
  }

  /** Add what was read to the windows and judge them (one flush at a time). */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flush()).catch((err: unknown) => this.d.logger.warn({ err }, "tenant health flush failed; counts are kept for the next"));
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    const pending = this.#pending;
    const acks = this.#unacked;
    this.#pending = new Map();
    this.#unacked = [];
    const now = Date.now();
    try {
      for (const [tenant, counts] of pending) {
        const window = await addHealthCounts(this.d.counters, tenant, now, counts);
        pending.delete(tenant);
        await this.#judge(tenant, windowTotals(window, now), now);
      }
    } finally {
      // What did not reach KV is counted again next time (with its acks held back).
      for (const [tenant, c] of pending) this.#pending.set(tenant, c);
      if (pending.size === 0) for (const m of acks) m.ack();
      else this.#unacked.push(...acks);
    }
  }

  async #judge(tenant: string, totals: HealthCounts, now: number): Promise<void> {
    const { settings } = await getTenantSettings(this.d.tenants, tenant);
    const verdict = judge(totals, settings.reputation);
    bounceRate.record(verdict.bounceRate, { tenant });
    complaintRate.record(verdict.complaintRate, { tenant });
    const current = await getBreaker(this.d.tenants, tenant);
    const status = current?.status ?? "healthy";
    if (status === "paused" || status === verdict.status) return; // paused holds until an operator resumes
    const next: BreakerState = {
      status: verdict.status,
      since: now,
      ...(verdict.reason === undefined ? {} : { reason: verdict.reason }),
      sent: totals.sent,
      bounceRate: verdict.bounceRate,
      complaintRate: verdict.complaintRate,
    };
    await setBreaker(this.d.tenants, tenant, next);
    const log = verdict.status === "paused" ? this.d.logger.warn.bind(this.d.logger) : this.d.logger.info.bind(this.d.logger);
    log({ tenant, status: verdict.status, reason: verdict.reason }, `tenant reputation: ${verdict.status}`);
  }
}
