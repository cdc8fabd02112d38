import type { Egress, EgressSource, SourceStats, TierName } from "../../protocol/index.ts";
import { TokenBucket } from "../domain/token-bucket.ts";
import { egressMetrics } from "./metrics.ts";
import { poolOf } from "./pool-of.ts";
import type { Logger } from "pino";
import { SOURCE_SUSPEND_MS, type SourceHealth } from "./source-health.ts";
import { SmoothWeightedRoundRobin } from "./swrr.ts";
import type { WarmupLedger } from "./warmup-ledger.ts";

/** What every destination of a node shares for choosing sources. */
export interface EgressDeps {
  /** The egress configuration in force (live: read at each choice). */
  egress(): Egress;
  /** Warm-up counters (with their own clock of UTC days and sending hours). */
  ledger: Pick<WarmupLedger, "check" | "take" | "refund" | "figures">;
  health: Pick<SourceHealth, "suspendedUntil" | "suspend">;
  /** Rate buckets and suspensions. */
  now(): number;
}

/** The source a send goes out from: bind `address`, say `ehlo`. */
export interface ChosenSource {
  name: string;
  address: string;
  ehlo: string;
  /** This source's connection cap at the destination (within the destination's). */
  maxConnections: number | undefined;
  /** The destination's connection cap in force (learned or the policy's), which all its sources' sessions share. */
  destinationLimit?: number;
}

export type SourceChoice =
  /** No pool for this message: the host's default address and the node's EHLO name. */
  | { kind: "default" }
  | { kind: "source"; source: ChosenSource }
  /** Every source of the pool is busy for now: try again after `ms`, or when `until` settles, or when a send ends. */
  | { kind: "wait"; ms: number | undefined; until: Promise<void> | undefined }
  /** Every source of the pool is at its warm-up cap or suspended until `forMs` from now. */
  | { kind: "capped"; forMs: number };

interface PerSource {
  /** Out at this destination only (its address family does not fit the destination's) until then. */
  excludedUntil: number;
  connections: number;
  sent: number;
  bucket: TokenBucket | undefined;
  rate: number | undefined;
  address: string;
}

/**
 * One destination's budgets per egress source, within the destination's own limits (the
 * destination's caps stay the total: this only narrows what each source may take of them).
 * A message's pool comes from its tenant and tier; among the pool's sources with budget left
 * (connections, rate, today's warm-up allowance, not suspended) the choice is smooth weighted
 * round-robin. A source at its warm-up cap drops out of the round, so its share overflows to
 * its siblings; only a pool whose every source is capped makes its mail wait.
 */
export class SourceBudgets {
  #sources = new Map<string, PerSource>();
  #rounds = new Map<string, SmoothWeightedRoundRobin>();

  constructor(private readonly destination: string, private readonly d: EgressDeps) {}

  choose(tenant: string, tier: TierName): SourceChoice {
    const egress = this.d.egress();
    const pool = poolOf(egress, tenant, tier);
    const members = pool === undefined ? undefined : egress.pools?.[pool];
    if (pool === undefined || members === undefined) return { kind: "default" };
    const now = this.d.now();
    const eligible: [string, number][] = [];
    let waitMs: number | undefined;
    // Sources whose next warm-up block is on its way from KV: still in the round (a few ms).
    const pending = new Map<string, Promise<void>>();
    let busy = false;
    let cappedMs = Infinity;
    for (const [name, weight] of Object.entries(members)) {
      const source = egress.sources?.[name];
      if (source === undefined) continue;
      const suspendedUntil = this.d.health.suspendedUntil(name);
      if (suspendedUntil > now) {
        cappedMs = Math.min(cappedMs, suspendedUntil - now);
        continue;
      }
      const s = this.#state(name, source);
      if (s.excludedUntil > now) {
        cappedMs = Math.min(cappedMs, s.excludedUntil - now);
        continue;
      }
      if (source.maxConnections !== undefined && s.connections >= source.maxConnections) {
        busy = true; // a send ending pumps the destination again
        continue;
      }
      const wait = s.bucket?.waitMs(now) ?? 0;
      if (wait > 0) {
        waitMs = Math.min(waitMs ?? Infinity, wait);
        continue;
      }
      const warm = source.warmup === undefined ? ({ kind: "ok" } as const) : this.d.ledger.check(name, source.warmup, this.destination);
      if (warm.kind === "ok") eligible.push([name, weight]);
      else if (warm.kind === "pending") {
        eligible.push([name, weight]);
        pending.set(name, warm.until);
      }
      else cappedMs = Math.min(cappedMs, warm.forMs);
    }
    // A source waiting for its next block keeps its turn: the round trip must not shift its share to its siblings.
    const round = this.#round(pool);
    const next = round.peek(eligible);
    const reserving = next === undefined ? undefined : pending.get(next);
    if (reserving !== undefined) return { kind: "wait", ms: undefined, until: reserving };
    const picked = round.pick(eligible);
    if (picked !== undefined) return { kind: "source", source: this.#take(picked, egress.sources?.[picked] as EgressSource, now) };
    if (busy || waitMs !== undefined) return { kind: "wait", ms: waitMs, until: undefined };
    return { kind: "capped", forMs: cappedMs === Infinity ? 60_000 : cappedMs };
  }

  /** A send from `name` ended (counted as sent, whatever the reply). `unavailable`: the address is not on this host (nothing was sent). */
  finished(name: string, unavailable: boolean): void {
    const s = this.#sources.get(name);
    if (s === undefined) return;
    s.connections--;
    if (!unavailable) {
      s.sent++;
      egressMetrics().sent.add(1, { source: name, destination: this.destination });
      return;
    }
    const source = this.d.egress().sources?.[name];
    if (source?.warmup) this.d.ledger.refund(name, source.warmup, this.destination);
  }

  /**
   * Leave a source out at this destination for a while: its address is of the other family
   * than the destination's (an IPv6 source, an IPv4-only MX). It may serve other destinations.
   */
  exclude(name: string, logger: Pick<Logger, "warn">, error: string): void {
    const s = this.#sources.get(name);
    const now = this.d.now();
    if (s === undefined || s.excludedUntil > now) return;
    s.excludedUntil = now + SOURCE_SUSPEND_MS;
    logger.warn({ source: name, destination: this.destination, address: s.address, error }, "egress source cannot reach this destination (address family): its share here goes to the other sources of its pool");
  }

  /** The destination's view of each source that sent to it. */
  stats(): SourceStats[] {
    const egress = this.d.egress();
    const now = this.d.now();
    return [...this.#sources].map(([name, s]) => {
      const plan = egress.sources?.[name]?.warmup;
      const warmup = plan === undefined ? undefined : this.d.ledger.figures(name, plan, this.destination);
      const suspended = this.d.health.suspendedUntil(name) > now || s.excludedUntil > now;
      return { name, address: s.address, sent: s.sent, connections: s.connections, suspended, ...(warmup ? { warmup } : {}) };
    });
  }

  #take(name: string, source: EgressSource, now: number): ChosenSource {
    const s = this.#state(name, source);
    s.connections++;
    s.bucket?.tryTake(now);
    if (source.warmup) this.d.ledger.take(name, source.warmup, this.destination);
    return { name, address: source.address, ehlo: source.ehlo, maxConnections: source.maxConnections };
  }

  /** A source's state here, its rate bucket following the live configuration. */
  #state(name: string, source: EgressSource): PerSource {
    let s = this.#sources.get(name);
    if (s === undefined) {
      s = { excludedUntil: 0, connections: 0, sent: 0, bucket: undefined, rate: undefined, address: source.address };
      this.#sources.set(name, s);
    }
    s.address = source.address;
    if (s.rate !== source.messagesPerSecond) {
      s.rate = source.messagesPerSecond;
      const limits = s.rate === undefined ? undefined : { ratePerSecond: s.rate, burst: Math.max(1, Math.ceil(s.rate)) };
      if (limits === undefined) s.bucket = undefined;
      else if (s.bucket) s.bucket.setLimits(limits, this.d.now());
      else s.bucket = new TokenBucket(limits, this.d.now());
    }
    return s;
  }

  #round(pool: string): SmoothWeightedRoundRobin {
    let r = this.#rounds.get(pool);
    if (r === undefined) {
      r = new SmoothWeightedRoundRobin();
      this.#rounds.set(pool, r);
    }
    return r;
  }
}
