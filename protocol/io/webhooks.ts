import { AckPolicy, DeliverPolicy, JetStreamApiError, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { nanos } from "@nats-io/transport-node";
import { decode, encode } from "../codec.ts";
import { ID_PATTERN, newId } from "../ids.ts";
import { checkWebhookUrl } from "./net-guard.ts";
import { fnv1a32 } from "../partition.ts";
import { STREAMS, subjects, webhookLaneConsumerName } from "../subjects.ts";
import { newWebhookSecret } from "../webhook-signature.ts";
import { WebhookEndpoint, type CreateWebhookRequest, type WebhookView } from "../schemas/webhook.ts";

/**
 * The webhook registry: one KV entry per endpoint (`<tenant>.<id>` in `sluice_webhooks`),
 * plus the endpoint's work lanes on MAIL_WEBHOOKS, one durable consumer per lane with
 * max_ack_pending 1. Events of one message always take the same lane, so they arrive in
 * order; the lane count caps the endpoint's concurrency; and an endpoint that is down only
 * holds back its own lanes.
 */
export interface WebhookDeps {
  kv: KV;
  jsm: JetStreamManager;
}

export const webhookKey = (tenant: string, id: string): string => `${tenant}.${id}`;

/** The lane of a message: stable, so all its events queue behind each other. */
export const laneOf = (messageId: string, lanes: number): number => fnv1a32(messageId) % lanes;

/** Long enough for one POST with its timeout; a crashed actor's in-flight event returns after it. */
export const WEBHOOK_ACK_WAIT_MS = 30_000;

export function laneConsumerConfig(endpointId: string, lane: number): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: webhookLaneConsumerName(endpointId, lane),
    filter_subject: subjects.webhook(endpointId, lane),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(WEBHOOK_ACK_WAIT_MS),
    // One event in flight per lane: in order per message. A retry waiting on nak(delay)
    // holds its lane, which is what keeps the next event of that message behind it.
    max_ack_pending: 1,
    max_deliver: -1,
  };
}

/** Create the lane consumers of an endpoint; idempotent. */
export async function ensureLaneConsumers(jsm: JetStreamManager, endpoint: Pick<WebhookEndpoint, "id" | "lanes">): Promise<void> {
  for (let lane = 0; lane < endpoint.lanes; lane++) {
    try {
      await jsm.consumers.add(STREAMS.webhooks, laneConsumerConfig(endpoint.id, lane));
    } catch (e) {
      // 10148: exists with another config (2.10+); ours never changes, so it is ours.
      if (!(e instanceof JetStreamApiError && e.code === 10148)) throw e;
    }
  }
}

export const viewOf = (e: WebhookEndpoint): WebhookView => ({ id: e.id, url: e.url, events: e.events, lanes: e.lanes, createdAt: e.createdAt });

/** Register an endpoint; the answer carries its secret, which is not shown again. */
export async function registerWebhook(
  deps: WebhookDeps,
  tenant: string,
  request: CreateWebhookRequest,
  opts: { lanes: number; allowPrivate: boolean; now?: number },
): Promise<WebhookEndpoint> {
  const url = await checkWebhookUrl(request.url, { allowPrivate: opts.allowPrivate });
  const endpoint: WebhookEndpoint = {
    v: 1,
    id: newId(),
    tenant,
    url: url.toString(),
    events: [...new Set(request.events)],
    secret: newWebhookSecret(),
    lanes: opts.lanes,
    createdAt: opts.now ?? Date.now(),
  };
  // Lanes before the registry entry: once the actor sees the endpoint, its lanes exist.
  await ensureLaneConsumers(deps.jsm, endpoint);
  await deps.kv.create(webhookKey(tenant, endpoint.id), encode(endpoint));
  return endpoint;
}

export async function getWebhook(kv: KV, tenant: string, id: string): Promise<WebhookEndpoint | undefined> {
  if (!ID_PATTERN.test(id)) return undefined;
  const e = await kv.get(webhookKey(tenant, id));
  if (e === null || e.operation !== "PUT") return undefined;
  const decoded = decode(WebhookEndpoint, e.value, "webhook endpoint");
  return decoded.ok ? decoded.value : undefined;
}

export async function listWebhooks(kv: KV, tenant: string): Promise<WebhookEndpoint[]> {
  const out: WebhookEndpoint[] = [];
  for await (const key of await kv.keys(`${tenant}.*`)) {
    const id = key.slice(tenant.length + 1);
    const endpoint = await getWebhook(kv, tenant, id);
    if (endpoint !== undefined) out.push(endpoint);
  }
  return out.sort((a, b) => a.createdAt - b.createdAt);
}

/** Remove an endpoint, its lanes and its queued events; false when there was none. */
export async function removeWebhook(deps: WebhookDeps, tenant: string, id: string): Promise<boolean> {
  const endpoint = await getWebhook(deps.kv, tenant, id);
  if (endpoint === undefined) return false;
  await deps.kv.delete(webhookKey(tenant, id));
  for (let lane = 0; lane < endpoint.lanes; lane++) {
    await deps.jsm.consumers.delete(STREAMS.webhooks, webhookLaneConsumerName(id, lane)).catch(() => false);
  }
  await deps.jsm.streams.purge(STREAMS.webhooks, { filter: subjects.webhooksOf(id) });
  return true;
}
