import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS, loadConfig, quotaCounterKey, utcDay, validationError, windowTotals, type TenantSettingsInput } from "../../protocol/index.ts";
import { connectNats, counterValue, ensureTopology, getBreaker, getTenantSettings, listTenantSettings, readHealthWindow, resumeTenant, setTenantSettings, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";

export const help = `sluice tenants set <tenant> [--daily-quota N|none] [--rate N|none] [--weight W] [--on-quota reject|hold]
                   [--min-delivered N] [--warn-bounce R] [--pause-bounce R] [--warn-complaint R] [--pause-complaint R]
sluice tenants show <tenant>
sluice tenants list
sluice tenants resume <tenant>

Tenant settings in KV ${KV_BUCKETS.tenants}, live (no restart): the daily quota (recipients per
UTC day, cluster-wide; over it the gateway answers 429 quota_exceeded, or with --on-quota hold
accepts the recipients held and releases them when the quota renews, counted against that
day), the fair-share weight of each destination (default 1), and the reputation breaker's
thresholds (rates as fractions: 0.05 = 5%). 'show' adds today's quota use and the last 24 h of sent/bounced/complained with the
breaker's status; 'resume' lifts a pause and puts the tenant's held bulk mail back to send.`;

const num = (flag: string, v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw validationError("invalid_value", `--${flag} expects a number, got "${v}"`, flag);
  return n;
};

function changesOf(values: Record<string, string | undefined>): TenantSettingsInput & { clear: string[] } {
  const c: TenantSettingsInput & { clear: string[] } = { clear: [] };
  const optional = (flag: string, key: "dailyQuota" | "messagesPerSecond") => {
    const v = values[flag];
    if (v === undefined) return;
    if (v === "none") c.clear.push(key);
    else c[key] = num(flag, v);
  };
  optional("daily-quota", "dailyQuota");
  optional("rate", "messagesPerSecond");
  if (values.weight !== undefined) c.weight = num("weight", values.weight);
  if (values["on-quota"] !== undefined) c.onQuota = values["on-quota"] as "reject" | "hold";
  const rep: Record<string, number> = {};
  for (const [flag, key] of [["min-delivered", "minDelivered"], ["warn-bounce", "warnBounceRate"], ["pause-bounce", "pauseBounceRate"], ["warn-complaint", "warnComplaintRate"], ["pause-complaint", "pauseComplaintRate"]] as const) {
    const v = values[flag];
    if (v !== undefined) rep[key] = num(flag, v);
  }
  if (Object.keys(rep).length > 0) c.reputation = rep;
  return c;
}

export async function run(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const flags = ["daily-quota", "rate", "weight", "on-quota", "min-delivered", "warn-bounce", "pause-bounce", "warn-complaint", "pause-complaint"];
  const { values, positionals } = parseArgs({ args: rest, options: Object.fromEntries(flags.map((f) => [f, { type: "string" as const }])), allowPositionals: true });
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-tenants", { waitOnFirstConnect: false });
  try {
    const topology = topologyFor(topologyOptionsFrom(config));
    await ensureTopology(nc, { streams: topology.streams.filter((s) => s.name === "MAIL_HELD"), consumers: [], kv: topology.kv.filter((k) => k.name === KV_BUCKETS.tenants || k.name === KV_BUCKETS.tenantCounters), objectStores: [] });
    const kvm = new Kvm(nc);
    const [tenants, counters] = await Promise.all([kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.tenantCounters)]);
    const tenant = positionals[0];
    const need = (): string => {
      if (tenant === undefined) throw validationError("missing_tenant", `usage: sluice tenants ${sub} <tenant>`, "tenant");
      return tenant;
    };
    switch (sub) {
      case "set": {
        const { clear, ...changes } = changesOf(values);
        const t = need();
        let saved = await setTenantSettings(tenants, t, changes);
        if (clear.length > 0) {
          const rest = Object.fromEntries(Object.entries(saved).filter(([k]) => !clear.includes(k)));
          await tenants.put(t, Buffer.from(JSON.stringify(rest)));
          saved = (await getTenantSettings(tenants, t)).settings;
        }
        process.stdout.write(`${t}: ${JSON.stringify(saved)}\n`);
        return;
      }
      case "show": {
        const t = need();
        const now = Date.now();
        const { settings, stored } = await getTenantSettings(tenants, t);
        const used = await counterValue(counters, quotaCounterKey(t, utcDay(now)));
        const last24h = windowTotals(await readHealthWindow(counters, t), now);
        const breaker = (await getBreaker(tenants, t)) ?? { status: "healthy" };
        process.stdout.write(JSON.stringify({ tenant: t, stored, settings, today: { day: utcDay(now), used }, last24h, breaker }, null, 2) + "\n");
        return;
      }
      case "list": {
        process.stdout.write(`${"TENANT".padEnd(24)}${"QUOTA/DAY".padEnd(12)}${"RATE".padEnd(8)}${"WEIGHT".padEnd(8)}${"ON QUOTA".padEnd(10)}STATUS\n`);
        for (const { tenant: t, settings: s } of await listTenantSettings(tenants)) {
          const status = (await getBreaker(tenants, t))?.status ?? "healthy";
          process.stdout.write(`${t.padEnd(24)}${String(s.dailyQuota ?? "-").padEnd(12)}${String(s.messagesPerSecond ?? "-").padEnd(8)}${String(s.weight).padEnd(8)}${s.onQuota.padEnd(10)}${status}\n`);
        }
        return;
      }
      case "resume": {
        const t = need();
        const js = jetstream(nc);
        const { released } = await resumeTenant({ js, jsm: await jetstreamManager(nc), tenants, counters }, t);
        process.stdout.write(`${t}: resumed; ${released} held message(s) back to send\n`);
        return;
      }
      default:
        throw validationError("usage", "usage: sluice tenants set|show|list|resume (see 'sluice tenants --help')");
    }
  } finally {
    await nc.close();
  }
}
