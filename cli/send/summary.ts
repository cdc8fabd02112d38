import type { Rejected } from "./recipients.ts";

export interface SendSummary {
  accepted: number;
  rejected: Rejected[];
  /** Request or batch ids the gateway (or SDK) returned, to follow with `sluice status`. */
  ids: string[];
}

export function formatSummary(s: SendSummary): string {
  const lines = [`accepted: ${s.accepted}`, `rejected: ${s.rejected.length}`];
  for (const r of s.rejected.slice(0, 50)) lines.push(`  ${r.where}: ${r.reason}`);
  if (s.rejected.length > 50) lines.push(`  ... and ${s.rejected.length - 50} more (use --json for all)`);
  if (s.ids.length > 0) lines.push(`ids: ${s.ids.slice(0, 10).join(" ")}${s.ids.length > 10 ? ` ... (${s.ids.length})` : ""}`);
  return lines.join("\n") + "\n";
}
