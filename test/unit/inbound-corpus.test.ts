import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseInbound, type InboundKind, type InboundOutcome } from "../../protocol/index.ts";

// The corpus of real-world bounces, feedback reports and auto-replies (test/fixtures/bounces,
// sources and licences in its README): each message's kind, and per recipient the outcome.
// The share right is printed for docs/benchmarks.md; each message is also a row of its own.

const DIR = join(import.meta.dirname, "../fixtures/bounces");
type Row = { kind: InboundKind; recipients: [string, InboundOutcome][]; heldOut?: boolean };
const expected = Object.entries(JSON.parse(readFileSync(join(DIR, "expected.json"), "utf8")) as Record<string, Row | string>).filter((e): e is [string, Row] => typeof e[1] === "object");

async function judged(file: string): Promise<{ kind: string; recipients: [string, string][] }> {
  const { report } = await parseInbound(readFileSync(join(DIR, file)));
  return { kind: report.kind, recipients: report.recipients.map((r) => [r.address.toLowerCase(), r.outcome]) };
}

test("corpus: the share of messages whose kind and every recipient's outcome are right is at least 90%", async () => {
  let right = 0;
  const misses: string[] = [];
  for (const [file, row] of expected) {
    const got = await judged(file);
    const ok = got.kind === row.kind && JSON.stringify(got.recipients) === JSON.stringify(row.recipients.map(([a, o]) => [a.toLowerCase(), o]));
    if (ok) right++;
    else misses.push(`${file}: got ${JSON.stringify(got)}`);
  }
  const share = right / expected.length;
  process.stdout.write(`# inbound corpus: ${right}/${expected.length} right (${(share * 100).toFixed(1)}%)${misses.length ? `; misses:\n# ${misses.join("\n# ")}` : ""}\n`);
  assert.ok(expected.length >= 30, "the corpus has its messages");
  assert.ok(share >= 0.9, misses.join("\n"));
});

for (const [file, row] of expected) {
  test(`corpus: ${file} is ${row.kind}${row.recipients.length ? ` (${row.recipients.map(([, o]) => o).join(", ")})` : ""}`, async () => {
    const got = await judged(file);
    assert.equal(got.kind, row.kind);
    assert.deepEqual(got.recipients, row.recipients.map(([a, o]) => [a.toLowerCase(), o]));
  });
}

test("sluice inbound parse --json prints the report in the documented shape", () => {
  const out = execFileSync(process.execPath, [join(import.meta.dirname, "../../bin/sluice.js"), "inbound", "parse", join(DIR, "sisimai-exim-02.eml"), "--json"], { encoding: "utf8" });
  const report = JSON.parse(out) as { kind: string; recipients: Record<string, string>[] };
  assert.equal(report.kind, "dsn");
  assert.deepEqual(Object.keys(report.recipients[0] ?? {}), ["address", "action", "diagnostic", "outcome", "category"]);
  assert.equal(report.recipients[1]?.address, "sabatora@example.jp");
  assert.equal(report.recipients[1]?.outcome, "hard");
});
