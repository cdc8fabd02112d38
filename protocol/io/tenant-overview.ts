import type { JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { STREAMS, subjects } from "../subjects.ts";
import { judge, windowTotals, type TenantStatus } from "../tenant-health.ts";
import { quotaCounterKey, utcDay, type TenantSettings } from "../tenants.ts";
import { listKeys } from "./kv-keys.ts";
import { getBreaker, readHealthWindow } from "./tenant-health.ts";
import { counterValue, getTenantSettings } from "./tenants.ts";

/** One tenant as `sluice top` and the dashboard show it (besides its in-flight count, which the nodes report). */
export interface TenantRow {
  tenant: string;
  status: TenantStatus;
  reason?: string;
  /** Last 24 h, as the breaker counts them. */
  sent: number;
  bounceRate: number;
  complaintRate: number;
  settings: Pick<TenantSettings, "weight" | "onQuota" | "dailyQuota" | "messagesPerSecond">;
  /** Recipients counted against today's quota (reserved cluster-wide). */
  usedToday: number;
  /** Bulk mail the breaker holds (MAIL_HELD). */
  held: number;
  /** `delivered` events kept in MAIL_EVENTS: a rate between two looks. */
  delivered: number;
}

/** Most tenants one overview reads (each costs a few KV gets). */
export const OVERVIEW_MAX_TENANTS = 200;

/**
 * The tenants' figures: `only` one tenant (a tenant's own view), or every tenant that has
 * settings, a breaker state, held mail or delivered events (an operator's), at most
 * OVERVIEW_MAX_TENANTS, by name.
 */
export async function tenantOverview(d: { jsm: JetStreamManager; tenants: KV; counters: KV }, o: { now?: number; only?: string } = {}): Promise<TenantRow[]> {
  const now = o.now ?? Date.now();
  const [held, delivered] = await Promise.all([
    perTenant(d.jsm, STREAMS.held, o.only === undefined ? subjects.heldAll : subjects.heldOf(o.only)),
    perTenant(d.jsm, STREAMS.events, subjects.event(o.only ?? "*", "delivered")),
  ]);
  let names: string[];
  if (o.only !== undefined) names = [o.only];
  else {
    const keyed = (await listKeys(d.tenants)).map((k) => k.split(".")[0] ?? k);
    names = [...new Set([...keyed, ...held.keys(), ...delivered.keys()])].sort().slice(0, OVERVIEW_MAX_TENANTS);
  }
  return Promise.all(names.map((tenant) => row(d, tenant, now, held.get(tenant) ?? 0, delivered.get(tenant) ?? 0)));
}

async function row(d: { tenants: KV; counters: KV }, tenant: string, now: number, held: number, delivered: number): Promise<TenantRow> {
  const [{ settings }, breaker, window, usedToday] = await Promise.all([
    getTenantSettings(d.tenants, tenant),
    getBreaker(d.tenants, tenant),
    readHealthWindow(d.counters, tenant),
    counterValue(d.counters, quotaCounterKey(tenant, utcDay(now))),
  ]);
  const totals = windowTotals(window, now);
  const verdict = judge(totals, settings.reputation);
  const r: TenantRow = {
    tenant,
    status: breaker?.status ?? "healthy",
    sent: totals.sent,
    bounceRate: verdict.bounceRate,
    complaintRate: verdict.complaintRate,
    settings: { weight: settings.weight, onQuota: settings.onQuota, dailyQuota: settings.dailyQuota, messagesPerSecond: settings.messagesPerSecond },
    usedToday,
    held,
    delivered,
  };
  if (breaker?.reason !== undefined) r.reason = breaker.reason;
  return r;
}

/** Messages per tenant (the subject's third token) on `filter` of `stream`. */
async function perTenant(jsm: JetStreamManager, stream: string, filter: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const info = await jsm.streams.info(stream, { subjects_filter: filter });
  for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
    const tenant = subject.split(".")[2];
    if (tenant !== undefined) out.set(tenant, (out.get(tenant) ?? 0) + count);
  }
  return out;
}
