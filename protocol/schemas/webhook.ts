import { z } from "zod";
import { ID_PATTERN } from "../ids.ts";
import { EVENT_TYPES } from "../subjects.ts";
import { MailEvent } from "./event.ts";
import { DOMAIN_EVENT_TYPES, DomainEvent } from "../domains.ts";
import { Tenant } from "./delivery.ts";
import { TENANT_EVENT_TYPES, TenantEvent } from "../tenant-health.ts";

export const WebhookId = z.string().regex(ID_PATTERN, "is not a webhook id");

/** What an endpoint may subscribe to: every message event type, the sender-domain events and the reputation breaker's. */
export const WEBHOOK_EVENT_TYPES = [...EVENT_TYPES, ...DOMAIN_EVENT_TYPES, ...TENANT_EVENT_TYPES] as const;

/** What a webhook POST carries: a message's event, a sender domain's, or the tenant's (breaker). */
export const WebhookEvent = z.union([MailEvent, DomainEvent, TenantEvent]);
export type WebhookEvent = z.infer<typeof WebhookEvent>;

/** What the event is about, for its webhook lane and logs: the message, the domain, or the tenant. */
export const webhookSubjectOf = (event: WebhookEvent): string => ("messageId" in event ? event.messageId : "domain" in event ? event.domain : event.tenant);

/** POST /v1/webhooks */
export const CreateWebhookRequest = z
  .object({
    url: z
      .string()
      .max(2048)
      .url("is not a URL")
      .refine((u) => /^https?:\/\//i.test(u), "must be an http:// or https:// URL"),
    /** Left out: every event type there is (the answer lists them). */
    events: z
      .array(z.enum(WEBHOOK_EVENT_TYPES))
      .min(1, "needs at least one event type (leave the field out to subscribe to all)")
      .max(WEBHOOK_EVENT_TYPES.length)
      .default(() => [...WEBHOOK_EVENT_TYPES]),
  })
  .strict();
export type CreateWebhookRequest = z.infer<typeof CreateWebhookRequest>;

/** One registered endpoint, as stored in KV `sluice_webhooks` (the secret never leaves Sluice after creation). */
export const WebhookEndpoint = z
  .object({
    v: z.literal(1),
    id: WebhookId,
    tenant: Tenant,
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    secret: z.string().min(16),
    /** Work lanes of this endpoint = its concurrency cap; fixed at creation so messages keep their lane. */
    lanes: z.number().int().min(1).max(1000),
    createdAt: z.number().int(),
  })
  .strict();
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** What the API shows of an endpoint. */
export type WebhookView = Omit<WebhookEndpoint, "secret" | "v" | "tenant">;

/** One event to POST to one endpoint, on `mail.webhooks.<endpointId>.<lane>`. */
export const WebhookJob = z
  .object({
    v: z.literal(1),
    endpointId: WebhookId,
    event: WebhookEvent,
  })
  .strict();
export type WebhookJob = z.infer<typeof WebhookJob>;
