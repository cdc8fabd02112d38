import { partitionsFor } from "./rendezvous.ts";

/**
 * What ownership should do next, computed from plain data: no NATS, no clock. The lock
 * table carries the plan out; the apply loop then tells the node.
 */

/** A held lock: `owned` is consumed, `releasing` is being handed back, `fenced` may be lost and is not consumed. */
export type LockState = "owned" | "releasing" | "fenced";

/** The partitions this node should hold: its rendezvous share among the live nodes, none while it stops. */
export function desiredPartitions(self: string, partitions: number, live: string[], stopping: boolean): Set<number> {
  return new Set(stopping ? [] : partitionsFor(self, partitions, live));
}

export interface LockPlan {
  /** Owned but no longer wanted: stop consuming, then release. */
  disown: number[];
  /** Being released but wanted again: consume again, keep the lock. */
  reown: number[];
  /** Wanted, not held, not being acquired: try to create the lock. */
  acquire: number[];
}

export function planLocks(want: ReadonlySet<number>, held: ReadonlyMap<number, LockState>, acquiring: ReadonlySet<number>): LockPlan {
  const plan: LockPlan = { disown: [], reown: [], acquire: [] };
  for (const [p, state] of held) {
    if (state === "owned" && !want.has(p)) plan.disown.push(p);
    else if (state === "releasing" && want.has(p)) plan.reown.push(p);
  }
  for (const p of want) if (!held.has(p) && !acquiring.has(p)) plan.acquire.push(p);
  return plan;
}
