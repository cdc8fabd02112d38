import { formatPartitions, readClusterStatus, type ClusterStatus } from "../../actors/cluster/index.ts";
import { formatDuration, loadConfig } from "../../protocol/index.ts";
import { connectNats } from "../../protocol/io/index.ts";

export const help = `sluice cluster [--json]

Show the actor nodes that hold a lease, how long ago each last renewed it, and the
partitions each one owns (from the sluice_nodes and sluice_partitions KV buckets).
Partitions nobody holds are listed last: right after a crash they wait for the dead
node's locks to expire (SLUICE_LEASE_TTL).

  --json   print the status as JSON`;

export async function run(args: string[]): Promise<void> {
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-cluster");
  try {
    const status = await readClusterStatus(nc, config.partitions);
    process.stdout.write(args.includes("--json") ? JSON.stringify(status, null, 2) + "\n" : render(status));
  } finally {
    await nc.close();
  }
}

const age = (ms: number | undefined): string => (ms === undefined ? "expired" : ms < 1000 ? `${ms}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : formatDuration(ms - (ms % 1000)));

export function render(s: ClusterStatus): string {
  const rows = s.nodes.map((n) => [n.id, n.host ?? "-", n.pid !== undefined ? String(n.pid) : "-", age(n.leaseAgeMs), String(n.partitions.length), formatPartitions(n.partitions) || "-"]);
  const head = ["NODE", "HOST", "PID", "LEASE AGE", "OWNS", "PARTITIONS"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join("  ");
  const out = [
    `${s.nodes.filter((n) => n.leaseAgeMs !== undefined).length} node(s), ${s.partitions} partitions, lease TTL ${formatDuration(s.leaseTtlMs)}`,
    "",
    line(head),
    ...rows.map(line),
    "",
    s.unowned.length === 0 ? "every partition is owned" : `unowned: ${formatPartitions(s.unowned)} (${s.unowned.length})`,
  ];
  return out.join("\n") + "\n";
}
