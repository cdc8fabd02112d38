import { TIERS, type ScheduledVolume } from "../../protocol/index.ts";
import type { ClusterStats } from "../../protocol/telemetry/index.ts";
import { renderSources } from "./sources.ts";

/**
 * One frame of `sluice top` as plain text (no escape codes: the caller decides whether to
 * clear the screen), so a test reads exactly what an operator sees.
 */

export const num = (n: number | undefined): string => (n === undefined ? "-" : n >= 10_000_000 ? `${(n / 1e6).toFixed(1)}M` : n >= 100_000 ? `${(n / 1e3).toFixed(0)}k` : String(Math.round(n)));
const rate = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)}MB`;

export function table(header: string[], rows: string[][], rightAligned: Set<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

export function renderFrame(s: ClusterStats, opts: { width?: number; maxDestinations?: number; scheduled?: ScheduledVolume | undefined } = {}): string {
  const out: string[] = [];
  const when = new Date(s.at).toISOString().replace("T", " ").slice(0, 19);
  out.push(
    `sluice top — ${when} UTC — ${s.nodes.length} node(s) — delivered ${rate(s.totals.deliveredPerSecond)}/s, deferred ${rate(s.totals.deferredPerSecond)}/s, bounced ${rate(s.totals.bouncedPerSecond)}/s`,
  );
  out.push("");
  out.push(
    ...table(
      ["TIER", "QUEUED", "IN FLIGHT"],
      TIERS.map((t) => [t, num(s.tiers[t].queued), num(s.tiers[t].inFlight)]),
      new Set([1, 2]),
    ),
  );
  out.push("");
  if (s.nodes.length === 0) {
    out.push("no node has reported in the last seconds (is an actor node running?)");
  } else {
    out.push(...table(["NODE", "PARTITIONS", "RSS", "UP"], s.nodes.map((n) => [n.nodeId, String(n.partitions), mb(n.rssBytes), `${Math.max(0, Math.round((s.at - n.startedAt) / 1000))}s`]), new Set([1, 2, 3])));
  }
  out.push("");
  const max = opts.maxDestinations ?? 30;
  const dests = s.destinations.slice(0, max);
  out.push(
    ...table(
      ["DESTINATION", "STATE", "RATE/s", "LIMIT/s", "CONN", "QUEUED", "DELIVERED", "DEFERRED", "BOUNCED", "THROTTLED", "NODE"],
      dests.map((d) => [
        d.key,
        d.state,
        rate(d.deliveredPerSecond),
        // A limit learned from the destination's refusals shows beside the policy's: "4.5/50".
        d.ratePerSecond === d.configuredRatePerSecond ? rate(d.ratePerSecond) : `${rate(d.ratePerSecond)}/${rate(d.configuredRatePerSecond)}`,
        d.connectionLimit === undefined || d.connectionLimit === d.maxConnections ? `${d.connections}/${d.maxConnections}` : `${d.connections}/${d.connectionLimit}/${d.maxConnections}`,
        num(d.queued.critical + d.queued.transactional + d.queued.bulk),
        num(d.delivered),
        num(d.deferred),
        num(d.bounced),
        num(d.throttleEvents),
        d.nodeId,
      ]),
      new Set([2, 3, 4, 5, 6, 7, 8, 9]),
    ),
  );
  if (s.destinations.length > max) out.push(`... ${s.destinations.length - max} more destinations`);
  if (dests.some((d) => d.rateLimitSource === "learned" || d.connectionLimitSource === "learned")) {
    out.push("LIMIT/s and CONN show learned/policy where a destination's refusals taught a lower limit (CONN: open/learned/policy)");
  }
  out.push(...renderSources(s.destinations));
  if (opts.scheduled !== undefined) out.push("", ...renderScheduled(opts.scheduled));
  const width = opts.width;
  return out.map((l) => (width && l.length > width ? l.slice(0, width) : l)).join("\n") + "\n";
}

/** Scheduling: recipients the next hours will release, as the scheduler leader last counted. */
export function renderScheduled(v: ScheduledVolume): string[] {
  const hours = [1, 2, 3, 6, 12, 24];
  const upTo = (h: number): number => v.hours.slice(0, h).reduce((a, b) => a + b, 0);
  return [
    `SCHEDULED  ${num(v.total)} recipient(s) in ${v.requests} request(s), counted ${new Date(v.at).toISOString().slice(11, 19)} UTC`,
    ...table(
      ["RELEASED WITHIN", ...hours.map((h) => `${h}h`), "LATER"],
      [["", ...hours.map((h) => num(upTo(h))), num(v.later)]],
      new Set(hours.map((_, i) => i + 1).concat(hours.length + 1)),
    ),
  ];
}
