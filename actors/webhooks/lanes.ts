import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { metrics } from "@opentelemetry/api";
import type { Agent } from "undici";
import type { Logger } from "pino";
import { decode, webhookLaneConsumerName, webhookSubjectOf, STREAMS, WebhookJob, type WebhookEndpoint } from "../../protocol/index.ts";
import { sluiceMetrics } from "../../protocol/telemetry/index.ts";
import { postEvent } from "./post.ts";
import { tracedPost } from "./traced-post.ts";
import type { EndpointRegistry } from "./registry.ts";

const meter = metrics.getMeter("sluice");
const delivered = meter.createCounter("sluice_webhooks_delivered", { description: "Webhook events accepted (2xx) by an endpoint" });
const failed = meter.createCounter("sluice_webhooks_failed_attempts", { description: "Webhook POSTs that failed and will be retried" });
const dropped = meter.createCounter("sluice_webhooks_dropped", { description: "Webhook events given up after SLUICE_WEBHOOK_MAX_AGE" });

export interface LaneSettings {
  maxAgeMs: number;
  timeoutMs: number;
  /** Delay before the n-th retry; the last repeats. JetStream holds the event meanwhile. */
  backoffMs: readonly number[];
}

/**
 * The workers of one endpoint: one pull loop per lane. Each lane consumer has
 * max_ack_pending 1, so a lane POSTs one event at a time and a failing event (waiting on
 * its nak delay) keeps the later events of its messages behind it.
 */
export class EndpointLanes {
  readonly #loops: { messages: ConsumerMessages; done: Promise<void> }[] = [];

  constructor(
    private readonly endpoint: WebhookEndpoint,
    private readonly deps: { js: JetStreamClient; registry: EndpointRegistry; agent: Agent; settings: LaneSettings; log: Logger },
  ) {}

  async start(): Promise<void> {
    for (let lane = 0; lane < this.endpoint.lanes; lane++) {
      const consumer: Consumer = await this.deps.js.consumers.get(STREAMS.webhooks, webhookLaneConsumerName(this.endpoint.id, lane));
      const messages = await consumer.consume({ max_messages: 1 });
      const done = (async () => {
        for await (const m of messages) await this.#handle(m);
      })().catch((err: unknown) => this.deps.log.warn({ err, endpointId: this.endpoint.id, lane }, "webhook lane stopped"));
      this.#loops.push({ messages, done });
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#loops.map(async (l) => {
        await l.messages.close().catch(() => undefined); // a consumer whose connection already closed has nothing left to stop
        await l.done;
      }),
    );
  }

  async #handle(m: JsMsg): Promise<void> {
    const { registry, agent, settings, log } = this.deps;
    const job = decode(WebhookJob, m.data, "webhook job");
    if (!job.ok) {
      log.warn({ err: job.error.message }, "dropping an invalid webhook job");
      m.term();
      return;
    }
    const event = job.value.event;
    const endpoint = registry.get(job.value.endpointId);
    if (endpoint === undefined) {
      m.term(); // removed while this event was in flight: its lanes are going away
      return;
    }
    const ageMs = Date.now() - m.info.timestampNanos / 1e6;
    if (ageMs > settings.maxAgeMs) {
      log.warn({ endpointId: endpoint.id, messageId: webhookSubjectOf(event), eventId: event.id, deliveries: m.info.deliveryCount }, "webhook event dropped: endpoint did not accept it within SLUICE_WEBHOOK_MAX_AGE");
      dropped.add(1, { type: event.type });
      m.term();
      return;
    }
    const outcome = await tracedPost(m, endpoint.url, event, () => postEvent(agent, endpoint.url, endpoint.secret, event, settings.timeoutMs));
    if (outcome.ok) {
      delivered.add(1, { type: event.type });
      sluiceMetrics().webhookLag.record(Math.max(0, Date.now() - event.at) / 1000, { type: event.type });
      m.ack();
      return;
    }
    const steps = settings.backoffMs;
    const step = steps[Math.min(m.info.deliveryCount - 1, steps.length - 1)] ?? 60_000;
    // Never wait past the max age: the last try comes just before giving up.
    const delay = Math.max(0, Math.min(step, settings.maxAgeMs - ageMs));
    failed.add(1, { type: event.type });
    log.debug({ endpointId: endpoint.id, messageId: webhookSubjectOf(event), error: outcome.error, retryInMs: delay }, "webhook POST failed; retrying");
    m.nak(delay);
  }
}
