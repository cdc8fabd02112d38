import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { KV_BUCKETS, scheduleOf, warmupToday, type Egress } from "../../protocol/index.ts";
import { counterValue, listKeys } from "../../protocol/io/index.ts";

/** One (source, destination group)'s warm-up today, cluster-wide, from `sluice_warmup`. */
export interface WarmupProgress {
  source: string;
  group: string;
  day: number;
  cap: number;
  used: number;
  remaining: number;
}

/**
 * Today's warm-up counters of the sources on a ramp: the node owning each destination
 * counts there (reserved in blocks, so `used` may run a block ahead of what was sent).
 */
export async function readWarmupProgress(nc: NatsConnection, egress: Egress, now = Date.now()): Promise<WarmupProgress[]> {
  const kv = await new Kvm(nc).open(KV_BUCKETS.warmup);
  const today = new Date(now).toISOString().slice(0, 10);
  const out: WarmupProgress[] = [];
  for (const [source, s] of Object.entries(egress.sources ?? {})) {
    if (s.warmup === undefined) continue;
    for (const key of await listKeys(kv, `${source}.>`)) {
      if (!key.endsWith(`.${today}`)) continue;
      const stored = key.slice(source.length + 1, key.length - today.length - 1);
      const group = stored.startsWith("mx_") ? `mx:${stored.slice(3)}` : stored; // as warmupCounterKey wrote it
      const t = warmupToday(s.warmup, group, now);
      if (t.cap === undefined) continue;
      const used = await counterValue(kv, key);
      out.push({ source, group, day: t.day, cap: t.cap, used, remaining: Math.max(0, t.cap - used) });
    }
  }
  return out;
}

/** Sources, pools and their mapping, then each warming source's progress today. */
export function renderEgress(egress: Egress, progress: WarmupProgress[] | undefined, now = Date.now()): string {
  const sources = Object.entries(egress.sources ?? {});
  if (sources.length === 0) return "Egress: every message leaves from the host's default address (no sources configured)\n";
  const rows = sources.map(([name, s]) => {
    const w = s.warmup;
    const ramp = w === undefined ? "-" : `${typeof w.schedule === "string" ? w.schedule : "custom"} (${scheduleOf(w.schedule).length} days) from ${w.start}, day ${warmupToday(w, "", now).day}`;
    return [name, s.address, s.ehlo, s.maxConnections === undefined ? "-" : String(s.maxConnections), s.messagesPerSecond === undefined ? "-" : String(s.messagesPerSecond), ramp];
  });
  const out = ["", table(["SOURCE", "ADDRESS", "EHLO", "MAX CONN", "MSG/S", "WARM-UP"], rows), ""];
  for (const [pool, members] of Object.entries(egress.pools ?? {})) out.push(`pool ${pool}: ${Object.entries(members).map(([s, w]) => `${s}×${w}`).join(", ")}`);
  for (const [tenant, p] of Object.entries(egress.tenantPools ?? {})) out.push(`tenant ${tenant} → ${typeof p === "string" ? p : Object.entries(p).map(([t, n]) => `${t}: ${n}`).join(", ")}`);
  for (const [tier, p] of Object.entries(egress.tierPools ?? {})) out.push(`tier ${tier} → ${p}`);
  out.push(`default pool: ${egress.defaultPool ?? "none (unmapped mail leaves from the host's default address)"}`);
  const warming = sources.some(([, s]) => s.warmup !== undefined);
  if (progress === undefined && warming) out.push("", "warm-up progress not shown (needs NATS)");
  else if (progress !== undefined && progress.length > 0) {
    const cells = progress.map((p) => [p.source, p.group, String(p.day), String(p.cap), String(p.used), String(p.remaining)]);
    out.push("", table(["SOURCE", "DESTINATION", "DAY", "CAP TODAY", "USED", "LEFT"], cells));
  }
  return out.join("\n") + "\n";
}

function table(head: string[], cells: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(widths[i] as number)).join("  ").trimEnd();
  return [line(head), ...cells.map(line)].join("\n");
}
