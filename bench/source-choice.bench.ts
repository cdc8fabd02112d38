/**
 * bench/source-choice: what choosing an egress source costs per message in a destination
 * actor (SourceBudgets.choose + finished: pool lookup, per-source checks, smooth weighted
 * round-robin), for pools of 1, 3 and 10 sources, with and without a warm-up plan on every
 * source (the ledger here is an in-memory stand-in that always allows: the KV round trips
 * are reserved ahead in blocks, off this path). In process, no NATS.
 */
import type { KV } from "@nats-io/kv";
import pino from "pino";
import { SourceBudgets, WarmupLedger, type EgressDeps } from "../actors/egress/index.ts";
import type { Egress } from "../protocol/index.ts";

const N = Number(process.env.BENCH_ITEMS ?? 1_000_000);

function egress(sources: number, warm: boolean): Egress {
  const names = Array.from({ length: sources }, (_, i) => `s${i}`);
  return {
    sources: Object.fromEntries(names.map((n, i) => [n, { address: `127.0.0.${i + 2}`, ehlo: `${n}.test`, ...(warm ? { warmup: { start: "2026-01-01", schedule: "conservative" as const } } : {}) }])),
    pools: { p: Object.fromEntries(names.map((n, i) => [n, 1 + (i % 3)])) },
    defaultPool: "p",
  };
}

function run(sources: number, warm: boolean): number {
  const e = egress(sources, warm);
  const deps: EgressDeps = {
    egress: () => e,
    ledger: { check: () => ({ kind: "ok" }), take: () => undefined, refund: () => undefined, figures: () => undefined },
    health: { suspendedUntil: () => 0, suspend: () => undefined },
    now: () => 0,
  };
  const b = new SourceBudgets("bench.test", deps);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const c = b.choose("acme", "bulk");
    if (c.kind === "source") b.finished(c.source.name, false);
  }
  return ((performance.now() - t0) * 1e6) / N; // ns per message
}

for (let round = 0; round < 2; round++) {
  for (const n of [1, 3, 10]) for (const warm of [false, true]) console.log(`${round === 0 ? "warm-up " : ""}${n} source(s)${warm ? ", warm-up plans" : ""}: ${run(n, warm).toFixed(0)} ns per message`);
}

// The real ledger (a stand-in KV that answers at once: reservations are off this path,
// in blocks of a 50th of the cap), in chunks so that reserved blocks land between them.
async function runLedger(sources: number): Promise<number> {
  const e = egress(sources, true);
  const kv = { get: async () => null, create: async () => 1, update: async () => 1 } as unknown as KV;
  const ledger = new WarmupLedger({ kv, now: () => Date.parse("2026-01-29T23:30:00Z"), logger: pino({ level: "silent" }) });
  const b = new SourceBudgets("bench.test", { egress: () => e, ledger, health: { suspendedUntil: () => 0, suspend: () => undefined }, now: () => 0 });
  let spent = 0;
  let sent = 0;
  while (sent < N) {
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) {
      const c = b.choose("acme", "bulk");
      if (c.kind === "source") {
        b.finished(c.source.name, false);
        sent++;
      }
    }
    spent += performance.now() - t0;
    await new Promise((r) => setImmediate(r));
  }
  return (spent * 1e6) / sent;
}
for (let round = 0; round < 2; round++) {
  for (const n of [1, 3, 10]) console.log(`${round === 0 ? "warm-up " : ""}${n} source(s), warm-up plans, real ledger: ${(await runLedger(n)).toFixed(0)} ns per message`);
}
