import type { DestinationView } from "../../protocol/telemetry/index.ts";

/**
 * The egress sources panel of `sluice top` (issue 19): per source, what it sent to each
 * destination, its open connections, and for a source on a warm-up ramp its day and what
 * is left of today's cap there (cluster-wide). Nothing when no source has sent yet.
 */
export function renderSources(destinations: DestinationView[], max = 30): string[] {
  const rows: string[][] = [];
  for (const d of destinations) {
    for (const s of d.sources ?? []) {
      const w = s.warmup;
      rows.push([s.name, s.address, d.key, s.suspended ? "suspended" : "ok", String(s.sent), String(s.connections), w ? String(w.day) : "-", w ? `${w.remaining}/${w.cap}` : "-"]);
    }
  }
  if (rows.length === 0) return [];
  rows.sort((a, b) => (a[0] as string).localeCompare(b[0] as string) || Number(b[4]) - Number(a[4]));
  const header = ["SOURCE", "ADDRESS", "DESTINATION", "STATE", "SENT", "CONN", "WARM-UP DAY", "LEFT TODAY"];
  const shown = rows.slice(0, max);
  const widths = header.map((h, i) => Math.max(h.length, ...shown.map((r) => (r[i] ?? "").length)));
  const right = new Set([4, 5, 6, 7]);
  const line = (cells: string[]): string => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return ["", line(header), ...shown.map(line), ...(rows.length > max ? [`... ${rows.length - max} more source rows`] : [])];
}
