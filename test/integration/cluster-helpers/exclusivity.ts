/**
 * Records, per member, the partitions it consumes and flags any moment at which two
 * members consume the same partition. "Consumes" is what a node would do: a partition
 * counts from the moment onChange names it until the onChange that drops it resolved
 * (the node stopped pulling and finished in-flight work).
 */
export interface Violation {
  partition: number;
  members: [string, string];
  at: number;
}

export class ExclusivityLog {
  readonly held = new Map<string, Set<number>>();
  readonly violations: Violation[] = [];

  /** onChange(set) was called: new partitions count at once. */
  starting(member: string, set: number[]): void {
    const mine = this.held.get(member) ?? new Set<number>();
    for (const p of set) mine.add(p);
    this.held.set(member, mine);
    this.check();
  }

  /** onChange(set) resolved: the dropped partitions are drained. */
  settled(member: string, set: number[]): void {
    this.held.set(member, new Set(set));
  }

  /** The member is gone (kill -9): it consumes nothing from now on. */
  gone(member: string): void {
    this.held.delete(member);
  }

  check(at = Date.now()): void {
    const owner = new Map<number, string>();
    for (const [member, set] of this.held) {
      for (const p of set) {
        const other = owner.get(p);
        if (other !== undefined && other !== member) this.violations.push({ partition: p, members: [other, member], at });
        owner.set(p, member);
      }
    }
  }

  covered(): Set<number> {
    const all = new Set<number>();
    for (const set of this.held.values()) for (const p of set) all.add(p);
    return all;
  }
}

/**
 * A stand-in for the actor node's setPartitions, with its semantics: a new partition is
 * consumed as soon as a call names it; a dropped one until its in-flight work settled
 * (`drainMs`); calls may overlap, and one returns only after every partition it leaves out
 * is settled. It reports what it consumes through `report.starting/settled`.
 */
export function modelNode(report: { starting(set: number[]): void; settled(set: number[]): void }, drainMs: number, isDead: () => boolean = () => false): (set: number[]) => Promise<void> {
  let wanted = new Set<number>();
  const draining: Set<number>[] = [];
  const effective = (): number[] => {
    const all = new Set(wanted);
    for (const d of draining) for (const p of d) all.add(p);
    return [...all].sort((a, b) => a - b);
  };
  return async (set) => {
    if (isDead()) return;
    const before = effective();
    wanted = new Set(set);
    const removed = new Set(before.filter((p) => !wanted.has(p)));
    draining.push(removed);
    report.starting(set);
    if (removed.size > 0) await new Promise((r) => setTimeout(r, drainMs));
    draining.splice(draining.indexOf(removed), 1);
    while (draining.some((d) => [...d].some((p) => !set.includes(p)))) await new Promise((r) => setTimeout(r, 5));
    if (!isDead()) report.settled(effective());
  };
}
