import type { Egress, TierName } from "../../protocol/index.ts";

/**
 * The pool a message leaves from: the tenant's (for its tier, or for all its mail), else
 * the tier's, else the default pool; undefined = no pool, the host's own address and the
 * node's EHLO name (Sluice without egress configuration).
 */
export function poolOf(egress: Egress, tenant: string, tier: TierName): string | undefined {
  const t = egress.tenantPools?.[tenant];
  const fromTenant = typeof t === "string" ? t : t?.[tier];
  return fromTenant ?? egress.tierPools?.[tier] ?? egress.defaultPool;
}
