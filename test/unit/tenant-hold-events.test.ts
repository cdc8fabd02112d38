import { test } from "node:test";
import assert from "node:assert/strict";
import { addVolume, emptyVolume, resolveTiming, tenantEventOf, type ScheduleRecord } from "../../protocol/index.ts";

test("a request held over the quota: its plan starts at the renewal (or its own later sendAt), marked hold", () => {
  const now = Date.UTC(2026, 11, 6, 15, 0);
  const midnight = Date.UTC(2026, 11, 7);
  assert.deepEqual(resolveTiming({}, now, 30 * 86_400_000, midnight), { plan: { start: midnight, deliverOverMs: 0 }, hold: "quota" });
  const later = midnight + 3_600_000;
  assert.equal(resolveTiming({ sendAt: later }, now, 30 * 86_400_000, midnight).plan?.start, later);
  // Pacing is kept: the spread starts at the renewal.
  assert.deepEqual(resolveTiming({ deliverOver: 7_200_000 }, now, 30 * 86_400_000, midnight).plan, { start: midnight, deliverOverMs: 7_200_000 });
  // Not held: as before.
  assert.deepEqual(resolveTiming({}, now, 30 * 86_400_000), {});
});

test("breaker webhooks: tenant.paused into paused, tenant.resumed out of it, nothing for other moves; ids per transition", () => {
  const paused = { status: "paused" as const, since: 1000, reason: "bounce rate 12.00%", sent: 600, bounceRate: 0.12, complaintRate: 0 };
  assert.deepEqual(tenantEventOf("acme", "warning", paused), { v: 1, id: "acme.tenant.paused.1000", type: "tenant.paused", tenant: "acme", at: 1000, reason: "bounce rate 12.00%", sent: 600, bounceRate: 0.12, complaintRate: 0 });
  assert.equal(tenantEventOf("acme", undefined, paused)?.type, "tenant.paused", "healthy (no entry yet) → paused");
  assert.equal(tenantEventOf("acme", "paused", paused), undefined, "paused again (a rewrite): told once");
  const resumed = tenantEventOf("acme", "paused", { status: "healthy", since: 2000, reason: "resumed by an operator" });
  assert.deepEqual(resumed, { v: 1, id: "acme.tenant.resumed.2000", type: "tenant.resumed", tenant: "acme", at: 2000, reason: "resumed by an operator" });
  assert.equal(tenantEventOf("acme", "healthy", { status: "warning", since: 3000 }), undefined);
  assert.equal(tenantEventOf("acme", undefined, { status: "healthy", since: 3000 }), undefined);
});

test("the scheduled volume counts what is held over the quota per tenant", () => {
  const now = Date.UTC(2026, 11, 6, 15, 0);
  const record = (tenant: string, recipients: number, hold?: "quota"): ScheduleRecord => ({
    v: 1, requestId: `01jq${tenant.padEnd(22, "0")}`.slice(0, 26), tenant, kind: "batch", recipients, start: Date.UTC(2026, 11, 7), deliverOverMs: 0, state: "scheduled", version: 1, next: 0, ready: true, createdAt: now, updatedAt: now,
    ...(hold === undefined ? {} : { hold }),
  });
  const v = emptyVolume(now);
  addVolume(v, record("acme", 40, "quota"));
  addVolume(v, record("acme", 10));
  addVolume(v, record("bravo", 5, "quota"));
  assert.equal(v.total, 55);
  assert.deepEqual(v.heldForQuota, { acme: 40, bravo: 5 });
});
