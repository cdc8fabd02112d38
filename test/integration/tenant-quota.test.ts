import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { KV_BUCKETS } from "../../protocol/index.ts";
import { setTenantSettings } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

// Issue 16: a daily quota holds across gateways (two here, one NATS), reserved in blocks of 10.
let fx: GatewayFixture;
let second: Gateway;

before(async () => {
  fx = await startGatewayFixture({ SLUICE_QUOTA_BLOCK: "10" });
  second = await startGateway(fx.config, pino({ level: "silent" }), undefined, { keyCacheMs: 200 });
});

after(async () => {
  await second?.close();
  await fx?.close();
});

const mail = (i: number) => ({ from: "app@sender.test", to: `user${i}@example.test`, subject: "Hi", text: "Hello" });

test("dailyQuota 100 across two gateways: never more than 100 recipients accepted, the rest 429 quota_exceeded with the figures", async () => {
  await setTenantSettings(await new Kvm(fx.nc).open(KV_BUCKETS.tenants), "quota-t", { dailyQuota: 100 });
  const key = await fx.key("quota-t");
  const other = await fx.key("other-t");
  const urls = [fx.url, `http://127.0.0.1:${second.port}`];
  const post = async (i: number, k = key) => {
    const res = await fetch(`${urls[i % 2]}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${k}` }, body: JSON.stringify(mail(i)) });
    return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as { error?: { code: string; quota?: { quota: number; used: number; requested: number; resetsAt: string } } } };
  };
  const answers: Awaited<ReturnType<typeof post>>[] = [];
  for (let i = 0; i < 150; i += 10) answers.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => post(i + j)))));
  const accepted = answers.filter((a) => a.status === 202).length;
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(accepted + refused.length, 150, `only 202 and 429: ${[...new Set(answers.map((a) => a.status))]}`);
  // The bound: a refusal may come while the other gateway still holds an unused reservation (≤ one block).
  assert.ok(accepted <= 100 && accepted >= 90, `accepted ${accepted}`);
  const r = refused[0];
  assert.ok(r);
  assert.equal(r.body.error?.code, "quota_exceeded");
  assert.equal(r.body.error?.quota?.quota, 100);
  assert.equal(r.body.error?.quota?.requested, 1);
  assert.match(r.body.error?.quota?.resetsAt ?? "", /T00:00:00\.000Z$/);
  const retryAfter = Number(r.retryAfter);
  assert.ok(retryAfter >= 1 && retryAfter <= 86_400, `Retry-After ${r.retryAfter}`);

  // Unused reservations go back within a second or so: then exactly 100 fit, not one more.
  let more = 0;
  await waitFor("the rest of the quota back and used", async () => {
    const a = await post(1000 + more);
    if (a.status === 202) more++;
    return accepted + more === 100 ? true : undefined;
  }, 10_000, 200);
  assert.equal((await post(2000)).status, 429);
  assert.equal((await post(2001)).status, 429);
  assert.equal(await fx.sendCount(), 100, "MAIL_SEND holds exactly the accepted recipients");

  // Another tenant is not affected, and the tenant sees its own figures.
  assert.equal((await post(3000, other)).status, 202);
  const mine = await fx.get("/v1/tenant", key);
  assert.equal(mine.status, 200);
  assert.equal(mine.body.tenant, "quota-t");
  assert.equal(mine.body.settings.dailyQuota, 100);
  await waitFor("usage settled", async () => ((await fx.get("/v1/tenant", key)).body.today.used === 100 ? true : undefined), 5000);
  assert.equal((await fx.get("/v1/tenant", key)).body.today.remaining, 0);
});

test("messagesPerSecond 10 across two gateways: no second accepts more than 10 recipients; the rest 429 rate_limited", async () => {
  await setTenantSettings(await new Kvm(fx.nc).open(KV_BUCKETS.tenants), "rate-t", { messagesPerSecond: 10 });
  const key = await fx.key("rate-t");
  const urls = [fx.url, `http://127.0.0.1:${second.port}`];
  const answers = await Promise.all(
    Array.from({ length: 60 }, async (_, i) => {
      const res = await fetch(`${urls[i % 2]}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(mail(i)) });
      return { status: res.status, at: Date.now(), retryAfter: res.headers.get("retry-after"), body: (await res.json()) as { error?: { code: string } } };
    }),
  );
  const accepted = answers.filter((a) => a.status === 202);
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(accepted.length + refused.length, 60);
  // Answers come a little after their admission, so count by the seconds the burst spans.
  const seconds = new Set(answers.map((a) => Math.floor(a.at / 1000))).size + 1;
  assert.ok(accepted.length >= 1 && accepted.length <= 10 * seconds, `accepted ${accepted.length} over ${seconds} seconds`);
  assert.ok(refused.length > 0);
  assert.equal(refused[0]?.body.error?.code, "rate_limited");
  assert.equal(refused[0]?.retryAfter, "1");
});

test("an API key's rate holds across two gateways: no second admits more than the rate; the rest 429 rate_limited", async () => {
  const key = await fx.key("keyrate-t", ["send", "read"], 5);
  const urls = [fx.url, `http://127.0.0.1:${second.port}`];
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const res = await fetch(`${urls[i % 2]}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(mail(i)) });
      return { status: res.status, at: Date.now(), retryAfter: res.headers.get("retry-after"), body: (await res.json()) as { error?: { code: string } } };
    }),
  );
  const accepted = answers.filter((a) => a.status === 202).length;
  const refused = answers.filter((a) => a.status === 429);
  assert.equal(accepted + refused.length, 40);
  // Every admission falls in a second between the burst's start and its last answer; each
  // gateway on its own would admit 5 per second (10 together).
  const seconds = Math.floor(Math.max(...answers.map((a) => a.at)) / 1000) - Math.floor(started / 1000) + 1;
  assert.ok(accepted >= 1 && accepted <= 5 * seconds, `accepted ${accepted} over ${seconds} seconds`);
  assert.equal(refused[0]?.body.error?.code, "rate_limited");
  assert.equal(refused[0]?.retryAfter, "1");
  // Refused for this second only: a later one admits again.
  await waitFor("the key admits again in a later second", async () => {
    const res = await fetch(`${urls[1]}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${key}` }, body: JSON.stringify(mail(99)) });
    await res.arrayBuffer();
    return res.status === 202 ? true : undefined;
  }, 5000, 200);
});
