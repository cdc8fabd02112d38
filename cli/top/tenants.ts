import type { TenantRow } from "../../protocol/io/index.ts";
import { num, table } from "./render.ts";

const pct = (r: number): string => `${(r * 100).toFixed(2)}%`;

/** What `sluice top` shows per tenant: a row of the overview, what the nodes hold of it, and its delivery rate since the last frame. */
export interface TenantLine {
  row: TenantRow;
  inFlight: number;
  /** Held over the daily quota (onQuota hold), as the scheduler leader last counted. */
  overQuota: number;
  /** Delivered per second since the previous frame; undefined on the first. */
  perSecond: number | undefined;
}

/**
 * The tenants' section of `sluice top`: the busiest first (in flight + held), at most `max`.
 * HELD is bulk the breaker holds, OVER QUOTA what waits for the quota to renew; QUOTA TODAY
 * is used/quota (reject or hold over it); BOUNCE and COMPLAINT are the last
 * 24 h as the breaker counts them; a paused tenant's reason follows the table.
 */
export function renderTenants(lines: TenantLine[], opts: { max?: number; width?: number } = {}): string {
  const max = opts.max ?? 10;
  const busiest = [...lines].sort((a, b) => b.inFlight + b.row.held + b.overQuota - (a.inFlight + a.row.held + a.overQuota) || a.row.tenant.localeCompare(b.row.tenant)).slice(0, max);
  const out = [
    ...table(
      ["TENANT", "STATUS", "IN FLIGHT", "HELD", "OVER QUOTA", "DELIVERED/s", "QUOTA TODAY", "RATE LIMIT", "BOUNCE", "COMPLAINT", "SENT 24h", "WEIGHT"],
      busiest.map(({ row: t, inFlight, overQuota, perSecond }) => [
        t.tenant,
        t.status,
        num(inFlight),
        num(t.held),
        num(overQuota),
        perSecond === undefined ? "-" : perSecond.toFixed(1),
        t.settings.dailyQuota === undefined ? `${num(t.usedToday)}/-` : `${num(t.usedToday)}/${num(t.settings.dailyQuota)} ${t.settings.onQuota}`,
        t.settings.messagesPerSecond === undefined ? "-" : String(t.settings.messagesPerSecond),
        pct(t.bounceRate),
        pct(t.complaintRate),
        num(t.sent),
        String(t.settings.weight),
      ]),
      new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    ),
  ];
  if (lines.length > max) out.push(`... ${lines.length - max} more tenants`);
  for (const { row } of busiest) if (row.status === "paused") out.push(`${row.tenant} paused: ${row.reason ?? "by the reputation breaker"} (sluice tenants resume ${row.tenant})`);
  return out.map((l) => (opts.width && l.length > opts.width ? l.slice(0, opts.width) : l)).join("\n") + "\n";
}

/** Lines from an overview, the nodes' in-flight and the scheduler's over-quota counts, and the previous frame's delivered counts (for the rate). */
export function tenantLines(
  rows: TenantRow[],
  counts: { inFlight: Record<string, number>; overQuota: Record<string, number> },
  previous: { at: number; delivered: Map<string, number> } | undefined,
  now: number,
): TenantLine[] {
  const seconds = previous === undefined ? 0 : (now - previous.at) / 1000;
  return rows.map((row) => {
    const before = previous?.delivered.get(row.tenant);
    return { row, inFlight: counts.inFlight[row.tenant] ?? 0, overQuota: counts.overQuota[row.tenant] ?? 0, perSecond: seconds > 0 && before !== undefined ? Math.max(0, (row.delivered - before) / seconds) : undefined };
  });
}
