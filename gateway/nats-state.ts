import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  KV_BUCKETS,
  OBJECT_STORES,
  temporaryError,
  type Config,
  errorMessage,
} from "../protocol/index.ts";
import { AckedPublisher, type ProducerDeps } from "../protocol/io/index.ts";

/** Every NATS handle a route needs: one registry, opened once per connection. */
export interface GatewayDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  producer: ProducerDeps;
  keys: KV;
  idempotency: KV;
  batches: KV;
  batchCounts: KV;
  status: KV;
  suppressions: KV;
  webhooks: KV;
  templates: KV;
  domains: KV;
  /** Scheduling: KV sluice_schedules (cancel, reschedule). */
  schedules: KV;
  /** Opens the Kv manager's buckets on demand (those a gateway can live without, e.g. sluice_tenants). */
  kvm: Kvm;
}

/**
 * Tracks whether NATS is reachable, so that a request during an outage is answered 503
 * at once instead of waiting for a publish timeout, and opens the stores lazily (they
 * need a live server; the gateway starts without one).
 */
export class NatsState {
  #nc: NatsConnection | undefined;
  #connected = false;
  #deps: Promise<GatewayDeps> | undefined;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {}

  attach(nc: NatsConnection): void {
    this.#nc = nc;
    this.#connected = !nc.isClosed();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") {
          this.#connected = false;
          this.logger.warn("gateway lost NATS; answering 503 until it is back");
        } else if (s.type === "reconnect") {
          this.#connected = true;
          this.logger.info("gateway reconnected to NATS");
        }
      }
    })().catch(() => undefined); // the status iterator ends (or throws) only when the connection is closed for good
  }

  connection(): NatsConnection | undefined {
    return this.#nc;
  }

  /** The handles, or a temporary (503) error when NATS is not there. */
  async deps(): Promise<GatewayDeps> {
    const nc = this.#nc;
    if (nc === undefined || nc.isClosed() || !this.#connected) {
      throw temporaryError("nats_unavailable", "NATS is not reachable; retry later");
    }
    if (this.#deps === undefined) {
      const opening = this.#open(nc);
      this.#deps = opening;
      opening.catch(() => {
        if (this.#deps === opening) this.#deps = undefined;
      });
    }
    try {
      return await this.#deps;
    } catch (e) {
      throw temporaryError("nats_unavailable", `JetStream stores are not available (${errorMessage(e)}); retry later`, e);
    }
  }

  async #open(nc: NatsConnection): Promise<GatewayDeps> {
    const js = jetstream(nc, { timeout: 5000 });
    const kvm = new Kvm(js);
    const [payloads, keys, idempotency, batches, batchCounts, status, suppressions, webhooks, templates, domains, jsm, schedules] = await Promise.all([
      new Objm(js).open(OBJECT_STORES.payloads),
      kvm.open(KV_BUCKETS.keys),
      kvm.open(KV_BUCKETS.idempotency),
      kvm.open(KV_BUCKETS.batches),
      kvm.open(KV_BUCKETS.batchCounts),
      kvm.open(KV_BUCKETS.status),
      kvm.open(KV_BUCKETS.suppressions),
      kvm.open(KV_BUCKETS.webhooks),
      kvm.open(KV_BUCKETS.templates),
      kvm.open(KV_BUCKETS.domains),
      jetstreamManager(nc, { timeout: 5000 }),
      kvm.open(KV_BUCKETS.schedules),
    ]);
    const producer: ProducerDeps = {
      js,
      payloads,
      batches,
      partitions: this.config.partitions,
      inlinePayloadMaxBytes: this.config.inlinePayloadMaxBytes,
      publisher: new AckedPublisher(nc),
      publishTimeoutMs: 5000,
      maxPayload: () => nc.info?.max_payload,
      schedules,
      scheduleHorizonMs: this.config.schedule.horizonMs,
    };
    return { nc, js, jsm, producer, keys, idempotency, batches, batchCounts, status, suppressions, webhooks, templates, domains, schedules, kvm };
  }
}
