import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { runInNewContext } from "node:vm";
import { renderEgress } from "../../cli/commands/policies-egress.ts";
import { renderSources } from "../../cli/top/sources.ts";
import type { Egress, SourceStats } from "../../protocol/index.ts";
import type { DestinationView } from "../../protocol/telemetry/index.ts";

const SOURCES: SourceStats[] = [
  { name: "ip2", address: "192.0.2.2", sent: 40, connections: 1, suspended: false, warmup: { day: 3, cap: 300, used: 120, remaining: 180 } },
  { name: "ip1", address: "192.0.2.1", sent: 7, connections: 0, suspended: true },
];

const view = (key: string, sources?: SourceStats[]): DestinationView => ({
  key,
  nodeId: "n1",
  state: "sending",
  deliveredPerSecond: 0,
  ratePerSecond: 5,
  configuredRatePerSecond: 5,
  connections: 0,
  maxConnections: 2,
  queued: { critical: 0, transactional: 0, bulk: 0 },
  delivered: 0,
  deferred: 0,
  bounced: 0,
  throttleEvents: 0,
  ...(sources ? { sources } : {}),
});

test("sluice top: the sources panel shows each source's volume, state, warm-up day and what is left today", () => {
  const lines = renderSources([view("mx:google", SOURCES), view("plain.test")]);
  assert.match(lines[1] ?? "", /^SOURCE\s+ADDRESS\s+DESTINATION\s+STATE\s+SENT\s+CONN\s+WARM-UP DAY\s+LEFT TODAY$/);
  assert.match(lines[2] ?? "", /^ip1\s+192\.0\.2\.1\s+mx:google\s+suspended\s+7\s+0\s+-\s+-$/);
  assert.match(lines[3] ?? "", /^ip2\s+192\.0\.2\.2\s+mx:google\s+ok\s+40\s+1\s+3\s+180\/300$/);
  assert.deepEqual(renderSources([view("plain.test")]), [], "no panel without sources");
});

test("sluice policies: sources with their ramp and day, pools, the mapping, and today's progress", () => {
  const egress: Egress = {
    sources: { ip1: { address: "192.0.2.1", ehlo: "mta1.example.com", warmup: { start: "2026-12-01", schedule: "conservative" } }, ip2: { address: "192.0.2.2", ehlo: "mta2.example.com" } },
    pools: { shared: { ip1: 2, ip2: 1 } },
    tenantPools: { acme: { bulk: "shared" } },
    defaultPool: "shared",
  };
  const out = renderEgress(egress, [{ source: "ip1", group: "mx:google", day: 5, cap: 750, used: 700, remaining: 50 }], Date.parse("2026-12-06T10:00:00Z"));
  assert.match(out, /ip1\s+192\.0\.2\.1\s+mta1\.example\.com\s+-\s+-\s+conservative \(30 days\) from 2026-12-01, day 5/);
  assert.match(out, /pool shared: ip1×2, ip2×1/);
  assert.match(out, /tenant acme → bulk: shared/);
  assert.match(out, /default pool: shared/);
  assert.match(out, /ip1\s+mx:google\s+5\s+750\s+700\s+50/);
  assert.match(renderEgress({}, undefined), /default address/);
});

/** The smallest DOM sources.js touches. */
function fakeDom() {
  type El = { textContent: string; className: string; hidden: boolean; children: El[]; append(...c: El[]): void };
  const el = (): El => ({ textContent: "", className: "", hidden: false, children: [], append(...c) { this.children.push(...c); } });
  const body = { rows: [] as El[], replaceChildren(...rows: El[]) { this.rows = rows; } };
  const ids: Record<string, unknown> = { sources: { tBodies: [body] }, "sources-note": el() };
  return { body, note: ids["sources-note"] as El, window: {} as { SluiceSources?: { render(stats: unknown): void } }, document: { getElementById: (id: string) => ids[id], createElement: el } };
}

test("dashboard: the egress sources panel lists each source at each destination", () => {
  const dom = fakeDom();
  runInNewContext(readFileSync(new URL("../../gateway/dashboard/sources.js", import.meta.url), "utf8"), { window: dom.window, document: dom.document });
  dom.window.SluiceSources?.render({ destinations: [view("mx:google", SOURCES), view("plain.test")] });
  assert.equal(dom.note.hidden, true);
  assert.deepEqual(
    dom.body.rows.map((r) => r.children.map((c) => c.textContent)),
    [
      ["ip1", "192.0.2.1", "mx:google", "suspended", "7", "0", "–", "–"],
      ["ip2", "192.0.2.2", "mx:google", "ok", "40", "1", "3", "180 / 300"],
    ],
  );
});
