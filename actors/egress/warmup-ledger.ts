import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { nextRelease, utcDay, warmupCounterKey, warmupToday, type WarmupPlan, type WarmupToday } from "../../protocol/index.ts";
import { releaseBlock, reserveBlock } from "../../protocol/io/index.ts";

/** One (source, destination group, day) counter as this node sees it. */
interface Entry {
  key: string;
  day: string;
  /** Reserved from the cluster-wide counter and not yet used here. */
  local: number;
  /** The cluster-wide counter after this node's last reservation (used + reserved by every node). */
  counted: number;
  reserving: Promise<void> | undefined;
  /** The counter reached what the sending hours released so far: nothing more until then. */
  cappedUntil: number;
}

/** `capped.forMs`: until more is released (by the ledger's own clock, which tests move). */
export type WarmupCheck = { kind: "ok" } | { kind: "pending"; until: Promise<void> } | { kind: "capped"; forMs: number };

/** Today's warm-up figures of one (source, destination group), for stats and metrics. */
export interface WarmupFigures {
  day: number;
  cap: number;
  /** Sent or reserved cluster-wide today. */
  used: number;
  remaining: number;
}

/**
 * Warm-up counters, cluster-wide per (source, destination group, UTC day) in the
 * `sluice_warmup` bucket. The node that owns a destination reserves blocks from the counter by
 * compare-and-set (as gateways reserve tenant quota), and spends them locally, so a send
 * costs no NATS round trip; a block is small (a 50th of the day's cap) and what is unused is
 * handed back when the node stops. The counter never passes what the sending hours have released so far.
 */
export class WarmupLedger {
  /** source → destination group → today's entry (a new day replaces it). */
  #entries = new Map<string, Map<string, Entry>>();
  #day = "";
  // A day's cap and release change only on the hour: worked out once per (plan, group, hour),
  // not per message (Date parsing was ~1 µs a check per warming source).
  #todays = new WeakMap<WarmupPlan, Map<string, { hour: number; today: WarmupToday; day: string }>>();

  constructor(private readonly d: { kv: KV; now(): number; logger: Logger }) {}

  /** May `source` send one more to `group` now? Counts nothing (see take). */
  check(source: string, plan: WarmupPlan, group: string): WarmupCheck {
    const now = this.d.now();
    const { today, day } = this.#today(plan, group, now);
    if (today.cap === undefined) return { kind: "ok" };
    const e = this.#entry(source, group, day);
    if (e.local > 0) {
      // Ask for the next block while this one lasts, so sending does not stall on the round trip.
      if (e.local <= lowWater(today.cap) && e.reserving === undefined && now >= e.cappedUntil) this.#reserve(e, plan, group, today.cap, today.allowed);
      return { kind: "ok" };
    }
    if (e.reserving) return { kind: "pending", until: e.reserving };
    if (now < e.cappedUntil) return { kind: "capped", forMs: e.cappedUntil - now };
    return { kind: "pending", until: this.#reserve(e, plan, group, today.cap, today.allowed) };
  }

  /** Spend one (after `check` said ok). */
  take(source: string, plan: WarmupPlan, group: string): void {
    const { today, day } = this.#today(plan, group, this.d.now());
    if (today.cap === undefined) return;
    const e = this.#entry(source, group, day);
    if (e.local > 0) e.local--;
  }

  /** Give one back (the send never left: the source's address is not on this host). */
  refund(source: string, plan: WarmupPlan, group: string): void {
    const { today, day } = this.#today(plan, group, this.d.now());
    if (today.cap === undefined) return;
    this.#entry(source, group, day).local++;
  }

  /** Today's figures, undefined once the ramp is over. */
  figures(source: string, plan: WarmupPlan, group: string): WarmupFigures | undefined {
    const now = this.d.now();
    const today = warmupToday(plan, group, now);
    if (today.cap === undefined) return undefined;
    const e = this.#entries.get(source)?.get(group);
    if (e !== undefined && e.day !== utcDay(now)) return { day: today.day, cap: today.cap, used: 0, remaining: today.cap };
    const used = e === undefined ? 0 : e.counted - e.local;
    return { day: today.day, cap: today.cap, used, remaining: Math.max(0, today.cap - used) };
  }

  /** Hand back what this node reserved and did not use today (another node may own these destinations next). */
  async close(): Promise<void> {
    const today = utcDay(this.d.now());
    const all = [...this.#entries.values()].flatMap((byGroup) => [...byGroup.values()]);
    await Promise.all(all.map((e) => e.reserving));
    const unused = all.filter((e) => e.day === today && e.local > 0);
    await Promise.all(unused.map((e) => releaseBlock(this.d.kv, e.key, e.local).catch((err: unknown) => this.d.logger.warn({ err, key: e.key }, "could not hand back unused warm-up allowance"))));
    this.#entries.clear();
  }

  #today(plan: WarmupPlan, group: string, now: number): { today: WarmupToday; day: string } {
    const hour = Math.floor(now / 3_600_000);
    let byGroup = this.#todays.get(plan);
    if (byGroup === undefined) {
      byGroup = new Map();
      this.#todays.set(plan, byGroup);
    }
    let memo = byGroup.get(group);
    if (memo === undefined || memo.hour !== hour) {
      memo = { hour, today: warmupToday(plan, group, now), day: utcDay(now) };
      byGroup.set(group, memo);
    }
    return memo;
  }

  #entry(source: string, group: string, day: string): Entry {
    if (day !== this.#day) {
      // A new UTC day: yesterday's counters are done with (memory stays one day's destinations).
      this.#day = day;
      for (const byGroup of this.#entries.values()) for (const [g, e] of byGroup) if (e.day !== day) byGroup.delete(g);
    }
    let byGroup = this.#entries.get(source);
    if (byGroup === undefined) {
      byGroup = new Map();
      this.#entries.set(source, byGroup);
    }
    let e = byGroup.get(group);
    // A new day starts a new counter (a reservation still on its way lands in the old entry, unused).
    if (e === undefined || e.day !== day) {
      e = { key: warmupCounterKey(source, group, day), day, local: 0, counted: 0, reserving: undefined, cappedUntil: 0 };
      byGroup.set(group, e);
    }
    return e;
  }

  #reserve(e: Entry, plan: WarmupPlan, group: string, cap: number, allowed: number): Promise<void> {
    const block = blockOf(cap);
    e.reserving = reserveBlock(this.d.kv, e.key, { need: 1, block, limit: allowed })
      .then(
        ({ reserved, used }) => {
          e.local += reserved;
          e.counted = used + reserved;
          if (reserved === 0) e.cappedUntil = nextRelease(plan, this.d.now());
        },
        (err: unknown) => {
          // NATS away: this source waits a little rather than send uncounted.
          this.d.logger.warn({ err, key: e.key, group }, "could not reserve warm-up allowance; trying again shortly");
          e.cappedUntil = this.d.now() + 5000;
        },
      )
      .finally(() => (e.reserving = undefined));
    return e.reserving;
  }
}

/** A 50th of the day's cap, at least 5 (fewer round trips on a small cap; never past the cap, see reservationSize). */
const blockOf = (cap: number): number => Math.max(5, Math.ceil(cap / 50));
/** The next block is asked for when a quarter of this one is left. */
const lowWater = (cap: number): number => Math.max(1, Math.floor(blockOf(cap) / 4));
