import { test } from "node:test";
import assert from "node:assert/strict";
import { renderTenants, tenantLines } from "../../cli/top/tenants.ts";
import type { TenantRow } from "../../protocol/io/index.ts";

const row = (tenant: string, over: Partial<TenantRow> = {}): TenantRow => ({
  tenant,
  status: "healthy",
  sent: 1000,
  bounceRate: 0.01,
  complaintRate: 0,
  settings: { weight: 1, onQuota: "reject" },
  usedToday: 0,
  held: 0,
  delivered: 0,
  ...over,
});

test("sluice top's tenant section: busiest first, quota use, rates since the last frame, and why a tenant is paused", () => {
  const rows = [
    row("quiet", { delivered: 100 }),
    row("big", { delivered: 500, usedToday: 4200, settings: { weight: 2, onQuota: "hold", dailyQuota: 10_000, messagesPerSecond: 50 } }),
    row("bad", { status: "paused", reason: "bounce rate 12.00% reached the pause threshold 10.00%", held: 40, bounceRate: 0.12 }),
  ];
  const lines = tenantLines(rows, { inFlight: { big: 300, quiet: 1 }, overQuota: { big: 20 } }, { at: 0, delivered: new Map([["big", 300], ["quiet", 100]]) }, 2000);
  assert.equal(lines.find((l) => l.row.tenant === "big")?.perSecond, 100, "(500 - 300) delivered over 2 s");
  assert.equal(lines.find((l) => l.row.tenant === "bad")?.perSecond, undefined, "no earlier count: no rate");
  const text = renderTenants(lines, { max: 2 });
  const [header, first, second, more, paused] = text.trimEnd().split("\n");
  assert.match(header ?? "", /^TENANT\s+STATUS\s+IN FLIGHT\s+HELD\s+OVER QUOTA\s+DELIVERED\/s\s+QUOTA TODAY/);
  assert.match(first ?? "", /^big\s+healthy\s+300\s+0\s+20\s+100\.0\s+4200\/10000 hold\s+50\s+1\.00%\s+0\.00%\s+1000\s+2$/);
  assert.match(second ?? "", /^bad\s+paused\s+0\s+40\s+0\s+-\s+0\/-/);
  assert.equal(more, "... 1 more tenants");
  assert.equal(paused, "bad paused: bounce rate 12.00% reached the pause threshold 10.00% (sluice tenants resume bad)");
});
