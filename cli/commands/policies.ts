import { connect } from "@nats-io/transport-node";
import { applyKvPolicies, loadPolicyFile, PolicyBook, type EffectivePolicy } from "../../actors/index.ts";
import { loadConfig, errorMessage } from "../../protocol/index.ts";
import { readWarmupProgress, renderEgress, type WarmupProgress } from "./policies-egress.ts";

export const help = `sluice policies [--json] [--offline]

Print the effective per-destination policy table: the conservative defaults ("*"), the
built-in big-provider entries (mx:google, mx:microsoft, ... and the mailbox domains that
map to them), SLUICE_POLICIES (JSON or YAML) and live overrides from the sluice_policies
KV bucket, each row showing which layer set it. A live override is written with, e.g.:

  nats kv put sluice_policies example.com '{"messagesPerSecond": 10, "maxConnections": 2}'

(MX groups are stored as mx_google, the defaults as _defaults.)

Then the egress sources (address, EHLO name, warm-up ramp and day), pools and which
tenants and tiers use them, and today's warm-up progress per source and destination
(cap, used cluster-wide, left) from the sluice_warmup bucket. Sources and pools change
live with the _egress entry, merged over the file's name by name:

  nats kv put sluice_policies _egress '{"pools": {"shared": {"s1": 1, "s2": 1}}}'

  --json     print the table as JSON
  --offline  do not read the KV bucket (no NATS needed)`;

export async function run(args: string[]): Promise<void> {
  const config = loadConfig();
  const book = new PolicyBook(loadPolicyFile(config.policiesFile));
  let note = "";
  let progress: WarmupProgress[] | undefined;
  if (!args.includes("--offline")) {
    try {
      const nc = await connect({ servers: config.nats.servers, token: config.nats.token, timeout: 2000, reconnect: false, name: "sluice-policies" });
      try {
        const bad = await applyKvPolicies(nc, book);
        if (bad.length > 0) note = `ignored invalid KV entries: ${bad.join(", ")}`;
        progress = await readWarmupProgress(nc, book.egress);
      } finally {
        await nc.close();
      }
    } catch (e) {
      note = `KV overrides not shown (NATS at ${config.nats.servers.join(",")}: ${errorMessage(e)})`;
    }
  }
  const rows = book.table();
  if (args.includes("--json")) {
    process.stdout.write(JSON.stringify({ groupByMx: book.groupByMx, policies: rows, egress: book.egress, ...(progress ? { warmup: progress } : {}), ...(note ? { note } : {}) }, null, 2) + "\n");
    return;
  }
  process.stdout.write(render(rows, book.groupByMx) + renderEgress(book.egress, progress) + (note ? `\n${note}\n` : ""));
}

export function render(rows: EffectivePolicy[], groupByMx: boolean): string {
  const head = ["DESTINATION", "SOURCE", "MSG/S", "BURST", "PER MIN", "PER HOUR", "MAX CONN", "MSG/CONN", "TLS", "SUSPEND"];
  const cells = rows.map((r) => [
    r.key,
    r.source,
    String(r.policy.messagesPerSecond),
    String(r.policy.burst),
    r.policy.messagesPerMinute === undefined ? "-" : String(r.policy.messagesPerMinute),
    r.policy.messagesPerHour === undefined ? "-" : String(r.policy.messagesPerHour),
    String(r.policy.maxConnections),
    String(r.policy.maxMessagesPerConnection),
    r.policy.requireTLS ? "required" : "opportunistic",
    `${r.policy.suspendAfterFailures}× → ${r.policy.suspendSeconds}s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(widths[i] as number)).join("  ").trimEnd();
  return [line(head), ...cells.map(line), "", `MX grouping: ${groupByMx ? "on (domains whose MX is a known provider share its budget)" : "off"}`].join("\n") + "\n";
}
