import { test } from "node:test";
import assert from "node:assert/strict";
import { addToWindow, DEFAULT_TENANT_SETTINGS, HOUR_MS, judge, reservationSize, windowTotals, TenantSettings, msToNextUtcDay, utcDay } from "../../protocol/index.ts";

const th = DEFAULT_TENANT_SETTINGS.reputation;

test("reputation thresholds default like SES's: warn at 5% bounces, pause at 10%, only after 500 sent", () => {
  assert.equal(judge({ sent: 499, bounced: 400, complained: 0 }, th).status, "healthy", "too few to judge");
  assert.equal(judge({ sent: 1000, bounced: 49, complained: 0 }, th).status, "healthy");
  assert.equal(judge({ sent: 1000, bounced: 50, complained: 0 }, th).status, "warning");
  const paused = judge({ sent: 1000, bounced: 100, complained: 0 }, th);
  assert.equal(paused.status, "paused");
  assert.match(paused.reason ?? "", /bounce rate 10\.00% of 1000 recipients/);
  assert.equal(judge({ sent: 1000, bounced: 0, complained: 1 }, th).status, "warning", "0.1% complaints");
  assert.equal(judge({ sent: 1000, bounced: 0, complained: 5 }, th).status, "paused", "0.5% complaints");
});

test("the 24 h window drops hours older than a day and sums the rest", () => {
  const t0 = 100 * HOUR_MS;
  let w = addToWindow({ hours: [] }, t0, { sent: 10, bounced: 1, complained: 0 });
  w = addToWindow(w, t0 + 60_000, { sent: 5, bounced: 0, complained: 1 });
  w = addToWindow(w, t0 + 5 * HOUR_MS, { sent: 7, bounced: 2, complained: 0 });
  assert.equal(w.hours.length, 2);
  assert.deepEqual(windowTotals(w, t0 + 5 * HOUR_MS), { sent: 22, bounced: 3, complained: 1 });
  assert.deepEqual(windowTotals(w, t0 + 24 * HOUR_MS), { sent: 7, bounced: 2, complained: 0 }, "the first hour is out");
  w = addToWindow(w, t0 + 30 * HOUR_MS, { sent: 1, bounced: 0, complained: 0 });
  assert.equal(w.hours.length, 1, "old buckets are dropped when written");
});

test("quota reservations: a block while the quota is far, smaller near its end, never past it", () => {
  assert.equal(reservationSize({ need: 1, block: 100, used: 0, quota: 100_000 }), 100);
  assert.equal(reservationSize({ need: 1, block: 100, used: 99_600, quota: 100_000 }), 50, "an eighth of what is left");
  assert.equal(reservationSize({ need: 1, block: 100, used: 99_995, quota: 100_000 }), 1);
  assert.equal(reservationSize({ need: 300, block: 100, used: 0, quota: 100_000 }), 300, "at least what the request needs");
  assert.equal(reservationSize({ need: 6, block: 100, used: 99_995, quota: 100_000 }), 0, "does not fit: nothing");
  assert.equal(reservationSize({ need: 5, block: 100, used: 99_995, quota: 100_000 }), 5);
});

test("tenant settings: defaults, validation, and UTC day arithmetic", () => {
  assert.equal(DEFAULT_TENANT_SETTINGS.weight, 1);
  assert.equal(DEFAULT_TENANT_SETTINGS.onQuota, "reject");
  assert.equal(TenantSettings.safeParse({ weight: 0 }).success, false);
  assert.equal(TenantSettings.safeParse({ dailyQuota: -1 }).success, false);
  assert.equal(TenantSettings.safeParse({ surprise: 1 }).success, false);
  assert.equal(TenantSettings.parse({ reputation: { pauseBounceRate: 0.2 } }).reputation.warnBounceRate, 0.05);
  const at = Date.UTC(2026, 11, 5, 23, 59, 0);
  assert.equal(utcDay(at), "2026-12-05");
  assert.equal(msToNextUtcDay(at), 60_000);
});
