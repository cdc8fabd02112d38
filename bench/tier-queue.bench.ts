/**
 * bench/tier-queue: what deficit round-robin costs per message in a destination's local
 * queue: push then shift 1,000,000 items spread over 1, 100 and 10,000 tenants (in
 * process, no NATS). One queue for all tenants is the FIFO the queue was before issue 16.
 */
import { TierQueue } from "../actors/domain/tier-queue.ts";

const N = Number(process.env.BENCH_ITEMS ?? 1_000_000);

function run(tenants: number): number {
  const names = Array.from({ length: tenants }, (_, i) => `t${i}`);
  const q = new TierQueue<{ tenant: string }>({ tenantOf: (i) => i.tenant });
  const items = Array.from({ length: N }, (_, i) => ({ tenant: names[i % tenants] as string }));
  const t0 = performance.now();
  // Like a destination: a window of queued work, pushed and shifted in turn.
  let pushed = 0;
  while (pushed < 1000) q.push("bulk", items[pushed++] as { tenant: string });
  while (q.size > 0) {
    q.shift();
    if (pushed < N) q.push("bulk", items[pushed++] as { tenant: string });
  }
  return ((performance.now() - t0) * 1e6) / N; // ns per message
}

for (let round = 0; round < 2; round++) {
  for (const t of [1, 100, 10_000]) console.log(`${round === 0 ? "warm-up " : ""}${t} tenant(s): ${run(t).toFixed(0)} ns per message (push + shift)`);
}
