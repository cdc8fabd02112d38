import { TIERS, type TierName } from "../../protocol/index.ts";
import type { Job } from "../domain/job.ts";

/**
 * What this node holds — pulled from JetStream, not yet acked or naked — per partition and
 * tier. The dispatcher adds a job when it takes it; the settler releases it when the job is
 * acked or naked (or a settle failed and JetStream will redeliver it). Both get this one
 * ledger from the node, so neither needs the other. Admission (held per tier) and partition
 * hand-over (nothing held in a released partition) wait on it.
 */
export class HeldWork {
  #byPartition = new Map<number, number>();
  #byTier: Record<TierName, number> = { critical: 0, transactional: 0, bulk: 0 };
  /** Per tenant, for the tenants' backlog in `sluice top` and the dashboard. */
  #byTenant = new Map<string, number>();
  #waiters: (() => void)[] = [];

  hold(job: Job): void {
    this.#add(job, +1);
  }

  release(job: Job): void {
    this.#add(job, -1);
  }

  inTier(tier: TierName): number {
    return this.#byTier[tier];
  }

  inPartitions(ps: Iterable<number>): number {
    let n = 0;
    for (const p of ps) n += this.#byPartition.get(p) ?? 0;
    return n;
  }

  /** Resolves the next time anything held is released. */
  changed(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  byTier(): Record<TierName, number> {
    return Object.fromEntries(TIERS.map((t) => [t, Math.max(0, this.#byTier[t])])) as Record<TierName, number>;
  }

  /** Tenants with anything held here, and how much. */
  byTenant(): Record<string, number> {
    return Object.fromEntries(this.#byTenant);
  }

  #add(job: Job, delta: number): void {
    this.#byPartition.set(job.partition, (this.#byPartition.get(job.partition) ?? 0) + delta);
    this.#byTier[job.message.tier] += delta;
    const t = (this.#byTenant.get(job.message.tenant) ?? 0) + delta;
    if (t > 0) this.#byTenant.set(job.message.tenant, t);
    else this.#byTenant.delete(job.message.tenant);
    if (delta < 0 && this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }
}
