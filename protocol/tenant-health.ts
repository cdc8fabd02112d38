import { z } from "zod";
import type { ReputationThresholds } from "./tenants.ts";

/**
 * The reputation breaker's arithmetic (issue 16). Per tenant, counts of the last 24 hours in
 * hourly buckets: `sent` (delivered + bounced at the SMTP attempt), `bounced` (hard bounces,
 * at the attempt or asynchronous, after a 250) and `complained` (feedback reports). Rates
 * as SES defines them: bounces over sent, complaints over sent.
 */
export const HOUR_MS = 3_600_000;
const WINDOW_HOURS = 24;

export const HealthCounts = z.object({ sent: z.number().int().nonnegative(), bounced: z.number().int().nonnegative(), complained: z.number().int().nonnegative() }).strict();
export type HealthCounts = z.infer<typeof HealthCounts>;

export const HealthWindow = z.object({ hours: z.array(HealthCounts.extend({ hour: z.number().int() })).max(WINDOW_HOURS) }).strict();
export type HealthWindow = z.infer<typeof HealthWindow>;

export const TENANT_STATUSES = ["healthy", "warning", "paused"] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/** The breaker's state of one tenant, in `sluice_tenants` under `<tenant>.breaker` (a tenant name has no dot). */
export const BreakerState = z
  .object({
    status: z.enum(TENANT_STATUSES),
    since: z.number().int(),
    reason: z.string().optional(),
    sent: z.number().int().nonnegative().optional(),
    bounceRate: z.number().optional(),
    complaintRate: z.number().optional(),
  })
  .strict();
export type BreakerState = z.infer<typeof BreakerState>;

export const breakerKey = (tenant: string): string => `${tenant}.breaker`;
/** KV key (bucket `sluice_tenant_counters`) of a tenant's 24 h window. */
export const healthWindowKey = (tenant: string): string => `health.${tenant}`;

export const emptyCounts = (): HealthCounts => ({ sent: 0, bounced: 0, complained: 0 });

/** Add `counts` to the bucket of `at`, dropping buckets older than 24 h. */
export function addToWindow(window: HealthWindow, at: number, counts: HealthCounts): HealthWindow {
  const hour = Math.floor(at / HOUR_MS);
  const kept = window.hours.filter((h) => h.hour > hour - WINDOW_HOURS);
  const bucket = kept.find((h) => h.hour === hour);
  if (bucket) {
    bucket.sent += counts.sent;
    bucket.bounced += counts.bounced;
    bucket.complained += counts.complained;
  } else {
    kept.push({ hour, ...counts });
  }
  return { hours: kept.sort((a, b) => a.hour - b.hour) };
}

/** The last 24 h summed at `at`. */
export function windowTotals(window: HealthWindow, at: number): HealthCounts {
  const hour = Math.floor(at / HOUR_MS);
  const t = emptyCounts();
  for (const h of window.hours) {
    if (h.hour <= hour - WINDOW_HOURS) continue;
    t.sent += h.sent;
    t.bounced += h.bounced;
    t.complained += h.complained;
  }
  return t;
}

/**
 * What the counts say. Below `minDelivered` sent nothing is judged; `paused` is for the
 * caller to keep (only an operator's resume lifts it).
 */
export function judge(t: HealthCounts, th: ReputationThresholds): { status: TenantStatus; reason?: string; bounceRate: number; complaintRate: number } {
  const bounceRate = t.sent === 0 ? 0 : t.bounced / t.sent;
  const complaintRate = t.sent === 0 ? 0 : t.complained / t.sent;
  const rates = { bounceRate, complaintRate };
  if (t.sent < th.minDelivered) return { status: "healthy", ...rates };
  const pct = (r: number) => `${(r * 100).toFixed(2)}%`;
  const of = `of ${t.sent} recipients sent in the last 24 h`;
  if (bounceRate >= th.pauseBounceRate) return { status: "paused", reason: `bounce rate ${pct(bounceRate)} ${of} reached the pause threshold ${pct(th.pauseBounceRate)}`, ...rates };
  if (complaintRate >= th.pauseComplaintRate) return { status: "paused", reason: `complaint rate ${pct(complaintRate)} ${of} reached the pause threshold ${pct(th.pauseComplaintRate)}`, ...rates };
  if (bounceRate >= th.warnBounceRate) return { status: "warning", reason: `bounce rate ${pct(bounceRate)} ${of} is over the warning threshold ${pct(th.warnBounceRate)}`, ...rates };
  if (complaintRate >= th.warnComplaintRate) return { status: "warning", reason: `complaint rate ${pct(complaintRate)} ${of} is over the warning threshold ${pct(th.warnComplaintRate)}`, ...rates };
  return { status: "healthy", ...rates };
}

/**
 * Webhook events of the breaker (subscribed like the others: POST /v1/webhooks {"events":
 * ["tenant.paused", "tenant.resumed"]}). Like the domain events they are about no message:
 * never in the status index; their webhook lane is the tenant's.
 */
export const TENANT_EVENT_TYPES = ["tenant.paused", "tenant.resumed"] as const;

export const TenantEvent = z
  .object({
    v: z.literal(1),
    /** Deterministic per transition (tenant, type, the state's `since`): every node that sees it publishes the same id, stored once. */
    id: z.string().min(1).max(200),
    type: z.enum(TENANT_EVENT_TYPES),
    tenant: z.string().min(1).max(63),
    at: z.number().int(),
    reason: z.string().optional(),
    sent: z.number().int().nonnegative().optional(),
    bounceRate: z.number().optional(),
    complaintRate: z.number().optional(),
  })
  .strict();
export type TenantEvent = z.infer<typeof TenantEvent>;

/** The event of a breaker change from `previous` (undefined: healthy) to `next`: into paused, or out of it. */
export function tenantEventOf(tenant: string, previous: TenantStatus | undefined, next: BreakerState): TenantEvent | undefined {
  const wasPaused = previous === "paused";
  if (wasPaused === (next.status === "paused")) return undefined;
  const type = next.status === "paused" ? "tenant.paused" : "tenant.resumed";
  const event: TenantEvent = { v: 1, id: `${tenant}.${type}.${next.since}`, type, tenant, at: next.since };
  if (next.reason !== undefined) event.reason = next.reason;
  if (next.sent !== undefined) event.sent = next.sent;
  if (next.bounceRate !== undefined) event.bounceRate = next.bounceRate;
  if (next.complaintRate !== undefined) event.complaintRate = next.complaintRate;
  return event;
}
