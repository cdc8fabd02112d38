import { isIP } from "node:net";
import { z } from "zod";

/**
 * Egress sources and pools (issue 19): where mail leaves from. A source is a local address
 * and the EHLO name that goes with it; a pool is a weighted set of sources; tenants and
 * tiers map to pools. Lives in the policy file and, live, in `sluice_policies` under
 * EGRESS_KV_KEY, like destination policies.
 */

/** Source and pool names are KV-key and metric-label safe. */
export const EgressName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "a name is [a-z0-9][a-z0-9_-]*, at most 63");

/** The built-in daily schedules (see protocol/warmup.ts), or an explicit list of daily caps. */
export const WarmupSchedule = z.union([z.enum(["conservative", "fast"]), z.array(z.number().int().positive()).min(1).max(366)]);
export type WarmupSchedule = z.infer<typeof WarmupSchedule>;

export const WarmupPlan = z
  .object({
    /** Day 0 of the ramp (UTC), `YYYY-MM-DD`. */
    start: z.iso.date(),
    /** The schedule of every destination group not named in `groups`. */
    schedule: WarmupSchedule,
    /** Per destination group (a domain, or an MX group such as `mx:google`): its own schedule. */
    groups: z.record(z.string().min(1).max(253), WarmupSchedule).optional(),
    /** UTC hours [from, to) over which a day's cap is released hour by hour (default the whole day). */
    sendingHours: z
      .tuple([z.number().int().min(0).max(23), z.number().int().min(1).max(24)])
      .refine(([from, to]) => from < to, "sendingHours: from must be before to")
      .optional(),
  })
  .strict();
export type WarmupPlan = z.infer<typeof WarmupPlan>;

export const EgressSource = z
  .object({
    /** Local address to bind (must be on this host; otherwise the source is suspended). */
    address: z.string().refine((a) => isIP(a) !== 0, "address must be an IPv4 or IPv6 address"),
    /** The EHLO name sent from this address (should match its PTR record). */
    ehlo: z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/, "ehlo must be a host name"),
    /** Per destination: at most this many connections from this source (within the destination's cap). */
    maxConnections: z.number().int().min(1).max(1000).optional(),
    /** Per destination: at most this rate from this source (within the destination's rate). */
    messagesPerSecond: z.number().positive().max(100_000).optional(),
    warmup: WarmupPlan.optional(),
  })
  .strict();
export type EgressSource = z.infer<typeof EgressSource>;

/** A pool: source name → weight. */
export const EgressPool = z.record(EgressName, z.number().int().min(1).max(1000)).refine((p) => Object.keys(p).length > 0, "a pool needs at least one source");
export type EgressPool = z.infer<typeof EgressPool>;

/** A pool per tier; a tier left out falls back to the next rule. */
const PoolPerTier = z.object({ critical: EgressName.optional(), transactional: EgressName.optional(), bulk: EgressName.optional() }).strict();

/** A tenant's pool: one for all its mail, or one per tier (unnamed tiers fall back to tierPools/defaultPool). */
export const TenantPool = z.union([EgressName, PoolPerTier]);

export const EgressFields = {
  sources: z.record(EgressName, EgressSource).optional(),
  pools: z.record(EgressName, EgressPool).optional(),
  tenantPools: z.record(z.string().min(1).max(63), TenantPool).optional(),
  tierPools: PoolPerTier.optional(),
  defaultPool: EgressName.optional(),
};

/** The egress part of the policy file, and of the live KV entry. */
export const Egress = z.object(EgressFields).strict();
export type Egress = z.infer<typeof Egress>;

/** KV key of the egress entry in `sluice_policies` (merged over the file's, name by name). */
export const EGRESS_KV_KEY = "_egress";

/** The references that must hold: pools name known sources, mappings name known pools. Empty when sound. */
export function egressProblems(e: Egress): string[] {
  const problems: string[] = [];
  const sources = e.sources ?? {};
  const pools = e.pools ?? {};
  for (const [pool, members] of Object.entries(pools)) {
    for (const s of Object.keys(members)) if (sources[s] === undefined) problems.push(`pools.${pool}: no source named "${s}"`);
  }
  const pool = (where: string, name: string | undefined): void => {
    if (name !== undefined && pools[name] === undefined) problems.push(`${where}: no pool named "${name}"`);
  };
  pool("defaultPool", e.defaultPool);
  for (const [tier, name] of Object.entries(e.tierPools ?? {})) pool(`tierPools.${tier}`, name);
  for (const [tenant, p] of Object.entries(e.tenantPools ?? {})) {
    if (typeof p === "string") pool(`tenantPools.${tenant}`, p);
    else for (const [tier, name] of Object.entries(p)) pool(`tenantPools.${tenant}.${tier}`, name);
  }
  return problems;
}

/** Egress of the file, with the live KV entry merged over it name by name. */
export function mergeEgress(file: Egress, kv: Egress | undefined): Egress {
  if (kv === undefined) return file;
  const out: Egress = {
    sources: { ...file.sources, ...kv.sources },
    pools: { ...file.pools, ...kv.pools },
    tenantPools: { ...file.tenantPools, ...kv.tenantPools },
    tierPools: { ...file.tierPools, ...kv.tierPools },
  };
  const d = kv.defaultPool ?? file.defaultPool;
  if (d !== undefined) out.defaultPool = d;
  return out;
}
