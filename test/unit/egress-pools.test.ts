import { test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { poolOf, SmoothWeightedRoundRobin, SourceBudgets, type EgressDeps, type WarmupCheck } from "../../actors/egress/index.ts";
import { applyEgress } from "../../actors/policies/watch.ts";
import { PolicyBook, parsePolicyText } from "../../actors/policies/index.ts";
import { encode, type Egress } from "../../protocol/index.ts";

test("smooth weighted round-robin interleaves 2:1, and a source left out neither gains nor loses ground", () => {
  const rr = new SmoothWeightedRoundRobin();
  const both: [string, number][] = [["a", 2], ["b", 1]];
  assert.deepEqual(Array.from({ length: 6 }, () => rr.pick(both)), ["a", "b", "a", "a", "b", "a"]);
  assert.equal(rr.peek(both), "a");
  assert.equal(rr.peek(both), "a", "peek chooses nothing");
  assert.equal(rr.pick([["b", 1]]), "b", "a out of budget: b takes its turn");
  assert.equal(rr.pick([]), undefined);
  const counts = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 600; i++) counts[rr.pick([["a", 3], ["b", 2], ["c", 1]]) as "a" | "b" | "c"]++;
  assert.deepEqual(counts, { a: 300, b: 200, c: 100 });
});

const EGRESS: Egress = {
  sources: { s1: { address: "127.0.0.2", ehlo: "a.test" }, s2: { address: "127.0.0.3", ehlo: "b.test" }, s3: { address: "127.0.0.4", ehlo: "c.test", maxConnections: 1 } },
  pools: { shared: { s1: 1, s2: 1 }, bulk: { s2: 1 }, acme: { s3: 1 } },
  tenantPools: { acme: "acme", mixed: { bulk: "bulk" } },
  tierPools: { bulk: "bulk" },
  defaultPool: "shared",
};

test("a message's pool: its tenant's (per tier or whole), else its tier's, else the default; none without egress", () => {
  assert.equal(poolOf(EGRESS, "acme", "bulk"), "acme");
  assert.equal(poolOf(EGRESS, "mixed", "bulk"), "bulk");
  assert.equal(poolOf(EGRESS, "mixed", "transactional"), "shared");
  assert.equal(poolOf(EGRESS, "other", "bulk"), "bulk");
  assert.equal(poolOf(EGRESS, "other", "critical"), "shared");
  assert.equal(poolOf({}, "other", "critical"), undefined);
});

test("the policy file takes sources and pools, and names what is wrong with them", () => {
  const file = parsePolicyText(
    'sources:\n  s1: {address: "127.0.0.2", ehlo: mta1.example.com, warmup: {start: "2026-12-01", schedule: conservative}}\npools:\n  shared: {s1: 1}\ndefaultPool: shared\n',
    "yaml",
  );
  assert.equal(new PolicyBook(file).egress.sources?.s1?.ehlo, "mta1.example.com");
  assert.throws(() => parsePolicyText('{"sources":{"s1":{"address":"mta.example.com","ehlo":"x.test"}}}', "json"), /sources\.s1\.address/);
  assert.throws(() => parsePolicyText('{"pools":{"shared":{"nope":1}}}', "json"), /pools\.shared no source named "nope"/);
  assert.throws(() => parsePolicyText('{"sources":{"s1":{"address":"127.0.0.2","ehlo":"a.test"}},"pools":{"p":{"s1":1}},"tenantPools":{"acme":"q"}}', "json"), /tenantPools\.acme no pool named "q"/);
  assert.throws(() => parsePolicyText('{"sources":{"s1":{"address":"127.0.0.2","ehlo":"a.test","warmup":{"start":"2026-12-01","schedule":"warp"}}}}', "json"), /warmup/);
  assert.throws(() => parsePolicyText('{"sources":{"s1":{"address":"127.0.0.2","ehlo":"a.test","warmup":{"start":"2026-12-01","schedule":[10],"sendingHours":[20,8]}}}}', "json"), /sendingHours/);
});

test("the live egress entry merges over the file name by name; a bad one leaves the previous in force", () => {
  const book = new PolicyBook({ sources: EGRESS.sources, pools: EGRESS.pools, defaultPool: "shared" });
  let changes = 0;
  book.onChange(() => changes++);
  const logger = pino({ level: "silent" });
  applyEgress(book, encode({ sources: { s4: { address: "127.0.0.5", ehlo: "d.test" } }, pools: { vip: { s4: 1 } }, tenantPools: { vip: "vip" } }), logger);
  assert.equal(poolOf(book.egress, "vip", "bulk"), "vip");
  assert.equal(book.egress.sources?.s1?.address, "127.0.0.2", "the file's sources stay");
  assert.equal(changes, 1);
  applyEgress(book, encode({ pools: { vip: { ghost: 1 } } }), logger);
  assert.deepEqual(book.egress.pools?.vip, { s4: 1 }, "a pool of an unknown source is refused");
  applyEgress(book, encode({ sources: { s5: { address: "not an address", ehlo: "e.test" } } }), logger);
  assert.equal(book.egress.sources?.s5, undefined);
  applyEgress(book, undefined, logger);
  assert.equal(poolOf(book.egress, "vip", "bulk"), "shared", "deleting the entry returns to the file's");
});

/** Budgets over a scripted warm-up ledger and suspensions. */
function budgets(egress: Egress, warm: Record<string, WarmupCheck> = {}, suspended: Record<string, number> = {}) {
  const taken: string[] = [];
  const deps: EgressDeps = {
    egress: () => egress,
    ledger: { check: (s) => warm[s] ?? { kind: "ok" }, take: (s) => void taken.push(s), refund: () => undefined, figures: () => undefined },
    health: { suspendedUntil: (s) => suspended[s] ?? 0, suspend: () => undefined },
    now: () => 1000,
  };
  return { b: new SourceBudgets("dest.test", deps), taken };
}

const sourceOf = (c: ReturnType<SourceBudgets["choose"]>): string | undefined => (c.kind === "source" ? c.source.name : undefined);

/** The shared pool's two sources on a warm-up ramp (the scripted ledger says where they are). */
const plan = { start: "2026-12-01", schedule: [10] };
const WARMING: Egress = { ...EGRESS, sources: { ...EGRESS.sources, s1: { address: "127.0.0.2", ehlo: "a.test", warmup: plan }, s2: { address: "127.0.0.3", ehlo: "b.test", warmup: plan } } };

test("a source at its warm-up cap drops out of the round: its share overflows to its siblings", () => {
  const { b } = budgets(WARMING, { s1: { kind: "capped", forMs: 60_000 } });
  assert.deepEqual(Array.from({ length: 4 }, () => sourceOf(b.choose("other", "transactional"))), ["s2", "s2", "s2", "s2"]);
});

test("only when every source of the pool is capped or suspended does the mail wait, until the soonest release", () => {
  const { b } = budgets(WARMING, { s1: { kind: "capped", forMs: 90_000 } }, { s2: 1000 + 30_000 });
  assert.deepEqual(b.choose("other", "transactional"), { kind: "capped", forMs: 30_000 });
});

test("a source with its next warm-up block on the way keeps its turn; a source at its connection cap waits for a send to end", () => {
  const until = Promise.resolve();
  const { b } = budgets(WARMING, { s1: { kind: "pending", until } });
  assert.deepEqual(b.choose("other", "transactional"), { kind: "wait", ms: undefined, until });
  const acme = budgets(EGRESS).b;
  assert.equal(sourceOf(acme.choose("acme", "bulk")), "s3");
  assert.deepEqual(acme.choose("acme", "bulk"), { kind: "wait", ms: undefined, until: undefined }, "s3 allows one connection");
  acme.finished("s3", false);
  assert.equal(sourceOf(acme.choose("acme", "bulk")), "s3");
  assert.equal(acme.stats().find((s) => s.name === "s3")?.sent, 1, "counted when a send ends");
});

test("without a pool for the message, it leaves from the host's default address", () => {
  assert.deepEqual(budgets({}).b.choose("other", "bulk"), { kind: "default" });
});

test("a source's own rate at a destination narrows its share: over it, its siblings send, and alone it waits for its next token", () => {
  const egress: Egress = { sources: { slow: { address: "127.0.0.2", ehlo: "a.test", messagesPerSecond: 1 }, fast: { address: "127.0.0.3", ehlo: "b.test" } }, pools: { both: { slow: 1, fast: 1 }, alone: { slow: 1 } }, tierPools: { bulk: "alone" }, defaultPool: "both" };
  const { b } = budgets(egress);
  const picks = Array.from({ length: 4 }, () => sourceOf(b.choose("t", "transactional")));
  assert.deepEqual(picks, ["slow", "fast", "fast", "fast"], "burst 1 at 1/s: one from slow, the rest from fast");
  assert.deepEqual(b.choose("t", "bulk"), { kind: "wait", ms: 1000, until: undefined });
});
