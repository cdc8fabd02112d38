import { KvWatchInclude, type KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { decode, WebhookEndpoint } from "../../protocol/index.ts";
import { listKeys } from "../../protocol/io/index.ts";

export interface RegistryListener {
  added(endpoint: WebhookEndpoint): void;
  removed(endpointId: string): void;
}

/**
 * The actor's view of `sluice_webhooks`: loaded once, then kept current by a KV watch, so
 * the fan-out never reads KV per event. Endpoints are few (tens per tenant at most).
 */
export class EndpointRegistry {
  readonly #byId = new Map<string, WebhookEndpoint>();
  readonly #byTenant = new Map<string, Set<string>>();
  #stop: (() => void) | undefined;

  constructor(
    private readonly kv: KV,
    private readonly listener: RegistryListener,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    // Watch updates first, then load: whatever changes in between is seen by one or the other.
    const watch = await this.kv.watch({ key: ">", include: KvWatchInclude.UpdatesOnly });
    this.#stop = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        if (e.operation === "PUT") this.#put(e.value);
        else this.#remove(e.key.slice(e.key.indexOf(".") + 1));
      }
    })().catch((err: unknown) => this.log.error({ err }, "webhook registry watch ended"));
    for (const key of await listKeys(this.kv, ">")) {
      const e = await this.kv.get(key);
      if (e !== null && e.operation === "PUT") this.#put(e.value);
    }
  }

  stop(): void {
    this.#stop?.();
  }

  /** Endpoints of a tenant that want this event type. */
  subscribers(tenant: string, type: WebhookEndpoint["events"][number]): WebhookEndpoint[] {
    const ids = this.#byTenant.get(tenant);
    if (ids === undefined) return [];
    const out: WebhookEndpoint[] = [];
    for (const id of ids) {
      const e = this.#byId.get(id);
      if (e !== undefined && e.events.includes(type)) out.push(e);
    }
    return out;
  }

  get(id: string): WebhookEndpoint | undefined {
    return this.#byId.get(id);
  }

  #put(value: Uint8Array): void {
    const decoded = decode(WebhookEndpoint, value, "webhook endpoint");
    if (!decoded.ok) {
      this.log.warn({ err: decoded.error.message }, "ignoring an invalid webhook registry entry");
      return;
    }
    const e = decoded.value;
    const known = this.#byId.has(e.id);
    this.#byId.set(e.id, e);
    let ids = this.#byTenant.get(e.tenant);
    if (ids === undefined) this.#byTenant.set(e.tenant, (ids = new Set()));
    ids.add(e.id);
    if (!known) this.listener.added(e);
  }

  #remove(id: string): void {
    const e = this.#byId.get(id);
    if (e === undefined) return;
    this.#byId.delete(id);
    this.#byTenant.get(e.tenant)?.delete(id);
    this.listener.removed(id);
  }
}
