import { z } from "zod";

/**
 * Tenant settings, one entry per tenant in KV `sluice_tenants` (key = the tenant name),
 * read live by gateways (quotas, rates) and nodes (fair-share weights). A tenant without an
 * entry has every default: weight 1, no quota, no rate beyond its keys', reputation
 * thresholds like SES's.
 */
export const ReputationThresholds = z
  .object({
    /** Below this many delivered recipients in 24 h the rates are not judged (too few to mean anything). */
    minDelivered: z.number().int().nonnegative().default(500),
    warnBounceRate: z.number().min(0).max(1).default(0.05),
    pauseBounceRate: z.number().min(0).max(1).default(0.1),
    warnComplaintRate: z.number().min(0).max(1).default(0.001),
    pauseComplaintRate: z.number().min(0).max(1).default(0.005),
  })
  .strict();
export type ReputationThresholds = z.output<typeof ReputationThresholds>;

export const TenantSettings = z
  .object({
    /** Recipients accepted per second, cluster-wide; absent = no tenant rate. */
    messagesPerSecond: z.number().positive().optional(),
    /** Recipients accepted per UTC day, cluster-wide; absent = unlimited. */
    dailyQuota: z.number().int().nonnegative().optional(),
    /** Share of each destination within a tier against the other tenants (default 1). */
    weight: z.number().min(0.1).max(1000).default(1),
    /** Over the quota: 429 (reject), or accept and hold until the quota renews (hold). */
    onQuota: z.enum(["reject", "hold"]).default("reject"),
    reputation: ReputationThresholds.prefault({}),
    updatedAt: z.number().int().optional(),
  })
  .strict();
export type TenantSettings = z.output<typeof TenantSettings>;
export type TenantSettingsInput = z.input<typeof TenantSettings>;

export const DEFAULT_TENANT_SETTINGS: TenantSettings = TenantSettings.parse({});

/** The UTC day a time falls in, as used in counter keys: `2026-12-05`. */
export const utcDay = (at: number): string => new Date(at).toISOString().slice(0, 10);

/** Milliseconds until the next UTC midnight (when a daily quota renews). */
export const msToNextUtcDay = (at: number): number => {
  const d = new Date(at);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - at;
};

/** KV key (bucket `sluice_tenant_counters`) of a tenant's recipients reserved on one UTC day. */
export const quotaCounterKey = (tenant: string, day: string): string => `quota.${tenant}.${day}`;

/** KV key (bucket `sluice_tenant_rates`) of a tenant's recipients reserved in one second (epoch seconds). */
export const rateCounterKey = (tenant: string, second: number): string => `rate.${tenant}.${second}`;

/** KV key (bucket `sluice_tenant_rates`) of an API key's requests in one second: its per-key rate, cluster-wide. */
export const keyRateCounterKey = (keyId: string, second: number): string => `key.${keyId}.${second}`;

/**
 * How much a gateway reserves from the shared counter at once: `block` while the quota is
 * far, then an eighth of what is left (at least what the request needs), so the last
 * recipients of the day are not stranded in one gateway's reservation while another refuses.
 */
export function reservationSize(o: { need: number; block: number; used: number; quota: number }): number {
  const left = o.quota - o.used;
  if (left < o.need) return 0;
  return Math.min(left, Math.max(o.need, Math.min(o.block, Math.floor(left / 8))));
}

/** The body of a 429 `quota_exceeded` (besides the error's code and message). */
export interface QuotaFigures {
  quota: number;
  used: number;
  requested: number;
  resetsAt: string;
}
