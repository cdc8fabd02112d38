import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm, type KV } from "@nats-io/kv";
import { pino } from "pino";
import { startFanout, type Fanout } from "../../actors/fanout/index.ts";
import { startStatusIndexer, type StatusIndexer } from "../../actors/status-indexer.ts";
import { startScheduler, type Scheduler } from "../../actors/scheduler/index.ts";
import { KV_BUCKETS, msToNextUtcDay, quotaCounterKey, STREAMS, subjects, utcDay } from "../../protocol/index.ts";
import { counterValue, setTenantSettings } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

// Issue 16: onQuota "hold" — over the daily quota, 202 with the recipients held; the
// scheduler releases them when the quota renews, counted against the new day's quota, and
// what does not fit that day waits for the next. The scheduler runs on a clock the test
// moves a day at a time (the gateway keeps the real one).
const DAY = 86_400_000;
let fx: GatewayFixture;
let scheduler: Scheduler | undefined;
let fanout: Fanout | undefined;
let indexer: StatusIndexer;
let counters: KV;
let offset = 0;

before(async () => {
  fx = await startGatewayFixture({ SLUICE_QUOTA_BLOCK: "2" });
  counters = await new Kvm(fx.nc).open(KV_BUCKETS.tenantCounters);
  indexer = await startStatusIndexer(fx.nc, fx.config, pino({ level: "silent" }));
});

after(async () => {
  await fanout?.close();
  await scheduler?.close();
  await indexer?.close();
  await fx?.close();
});

const mail = (to: string | string[]) => ({ from: "app@sender.test", to, subject: "Hi", text: "Hello" });
const countOn = async (stream: string, subject: string): Promise<number> => {
  const info = await fx.jsm.streams.info(stream, { subjects_filter: subject });
  return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
};

test("over dailyQuota with onQuota hold: 202 held, released on the next day against its quota, the rest the day after", async () => {
  const tenant = "hold-t";
  await setTenantSettings(await new Kvm(fx.nc).open(KV_BUCKETS.tenants), tenant, { dailyQuota: 5, onQuota: "hold" });
  const key = await fx.key(tenant);
  for (let i = 0; i < 5; i++) {
    const a = await fx.post("/v1/messages", mail(`in${i}@example.test`), key);
    assert.equal(a.status, 202);
    assert.equal(a.body.held, undefined);
  }
  const held = [];
  for (let i = 0; i < 4; i++) held.push(await fx.post("/v1/messages", mail(`held${i}@example.test`), key));
  const midnight = new Date(Date.now() + msToNextUtcDay(Date.now())).toISOString();
  for (const a of held) {
    assert.equal(a.status, 202);
    assert.equal(a.body.recipients[0].status, "held");
    assert.equal(a.body.held.reason, "quota_exceeded");
    assert.equal(a.body.held.releasesAt, midnight);
    assert.deepEqual({ quota: a.body.held.quota.quota, used: a.body.held.quota.used }, { quota: 5, used: 5 });
  }
  // More recipients than a whole day's quota could never be released: refused even in hold mode.
  const tooBig = await fx.post("/v1/messages", mail(["a@example.test", "b@example.test", "c@example.test", "d@example.test", "e@example.test", "f@example.test"]), key);
  assert.equal(tooBig.status, 429);
  assert.equal(tooBig.body.error.code, "quota_exceeded");
  assert.equal(await fx.sendCount(), 5, "held recipients are not on MAIL_SEND");
  await waitFor("4 held events", async () => ((await countOn(STREAMS.events, subjects.event(tenant, "held"))) === 4 ? true : undefined), 5000);
  const heldId = held[0]?.body.recipients[0].id as string;
  const statusOf = async () => (await fx.get(`/v1/messages/${heldId}`, key)).body.status as string | undefined;
  await waitFor("the recipient's status is held", async () => ((await statusOf()) === "held" ? true : undefined), 10_000);
  assert.equal(await counterValue(counters, quotaCounterKey(tenant, utcDay(Date.now()))), 5, "held mail costs nothing today");

  // Tomorrow 3 of the 5 are already taken (new requests of the day): 2 held ones fit, 2 wait.
  const day1 = utcDay(Date.now() + DAY);
  await counters.put(quotaCounterKey(tenant, day1), "3");
  offset = DAY;
  scheduler = await startScheduler(fx.nc, { nodeId: "hold-test", leaseTtlMs: 2000 }, pino({ level: "silent" }), { tickMs: 100, now: () => Date.now() + offset });
  await waitFor("2 held recipients released on day 1", async () => ((await fx.sendCount()) === 7 ? true : undefined), 15_000);
  assert.equal(await counterValue(counters, quotaCounterKey(tenant, day1)), 5, "released recipients count against day 1");
  // The other two are put off to the following midnight (their wake-ups are filed there).
  const day2Midnight = Math.floor((Date.parse(midnight) + DAY) / 1000);
  await waitFor("2 put off to day 2", async () => ((await countOn(STREAMS.scheduled, subjects.schedDue(day2Midnight))) >= 2 ? true : undefined), 10_000);
  assert.equal(await fx.sendCount(), 7);

  offset = 2 * DAY;
  await waitFor("the last 2 released on day 2", async () => ((await fx.sendCount()) === 9 ? true : undefined), 15_000);
  assert.equal(await counterValue(counters, quotaCounterKey(tenant, utcDay(Date.now() + 2 * DAY))), 2);
  await waitFor("a queued event per released recipient", async () => ((await countOn(STREAMS.events, subjects.event(tenant, "queued"))) === 4 ? true : undefined), 5000);
  await waitFor("the recipient's status is queued once released", async () => ((await statusOf()) === "queued" ? true : undefined), 10_000);
});

test("a batch over the quota is held whole: 202 held, its recipients held by the fan-out, released and counted together", async () => {
  assert.ok(scheduler, "the first test started the scheduler (its clock is two days ahead now)");
  const tenant = "hold-t";
  const key = await fx.key(tenant);
  const before = await fx.sendCount();
  const batch = await fx.post("/v1/batches", { from: "app@sender.test", subject: "Hi {{name}}", text: "Hello", recipients: [1, 2, 3].map((i) => ({ to: `b${i}@example.test`, vars: { name: `B${i}` } })) }, key);
  assert.equal(batch.status, 202);
  assert.equal(batch.body.accepted, 3);
  assert.equal(batch.body.held.reason, "quota_exceeded");
  fanout = startFanout(fx.nc, fx.config, pino({ level: "silent" }));
  await waitFor("the batch's 3 recipients released", async () => ((await fx.sendCount()) === before + 3 ? true : undefined), 20_000);
  await waitFor("3 more held events (the fan-out's)", async () => ((await countOn(STREAMS.events, subjects.event(tenant, "held"))) === 7 ? true : undefined), 5000);
  // Day 2 had 2 of 5 used by the first test: the batch's 3 fill it.
  assert.equal(await counterValue(counters, quotaCounterKey(tenant, utcDay(Date.now() + 2 * DAY))), 5);
});
