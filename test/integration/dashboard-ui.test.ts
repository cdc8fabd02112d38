import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { pino } from "pino";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  KV_BUCKETS,
  loadConfig,
  newId,
  quotaCounterKey,
  utcDay,
  recipientId,
  statsSubject,
  STREAMS,
  subjects,
  type NodeStats,
} from "../../protocol/index.ts";
import {
  createApiKey,
  setBreaker,
  setTenantSettings,
  ensureTopology,
  publishDeadLetter,
  putDomainEntry,
  topologyFor,
  topologyOptionsFrom,
} from "../../protocol/io/index.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { waitFor } from "../harness/ports.ts";

const CHROMIUM = "/usr/bin/chromium";

/** In the page: how many pixels of each series' colour its chart holds. */
const COUNT_SERIES_PIXELS = `(() => {
  function count(id, rgb) {
    const c = document.getElementById(id);
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - rgb[0]) < 8 && Math.abs(data[i + 1] - rgb[1]) < 8 && Math.abs(data[i + 2] - rgb[2]) < 8 && data[i + 3] > 200) n++;
    }
    return n;
  }
  return {
    bulkQueue: count("chart-queue", [0xab, 0x47, 0xbc]),
    delivered: count("chart-throughput", [0x66, 0xbb, 0x6a]),
    firstDestination: count("chart-destinations", [0x26, 0xc6, 0xda]),
  };
})()`;
let server: NatsServer;
let nc: NatsConnection;
let gateway: Gateway;
let browser: BrowserContext | undefined;
let page: Page | undefined;
let publisher: NodeJS.Timeout | undefined;
let adminKey = "";
const deadId = recipientId(newId(), 0);
const profileDir = mkdtempSync(join(tmpdir(), "sluice-chromium-"));

function snapshot(at: number, tick: number): NodeStats {
  return {
    v: 1,
    nodeId: "node-ui",
    at,
    startedAt: at - 120_000,
    partitions: [0, 1, 2, 3],
    rssBytes: 64 * 1048576,
    inFlight: { critical: 1, transactional: 3, bulk: 9 },
    tenantsInFlight: { acme: 13 },
    destinations: [
      {
        key: "gmail.com",
        state: "throttled",
        ratePerSecond: 4,
        configuredRatePerSecond: 20,
        connections: 2,
        maxConnections: 5,
        queued: { critical: 0, transactional: 2, bulk: 30 },
        delivered: tick * 4,
        deferred: tick,
        bounced: 0,
        throttleEvents: 2,
        sources: [
          { name: "mta1", address: "127.0.0.2", sent: 1200, connections: 1, suspended: false, warmup: { day: 3, cap: 200, used: 150, remaining: 50 } },
          { name: "mta2", address: "192.0.2.1", sent: 0, connections: 0, suspended: true },
        ],
      },
      {
        key: "example.org",
        state: "sending",
        ratePerSecond: 50,
        configuredRatePerSecond: 50,
        connections: 3,
        maxConnections: 3,
        queued: { critical: 0, transactional: 0, bulk: 4 },
        delivered: tick * 10,
        deferred: 0,
        bounced: Math.floor(tick / 3),
        throttleEvents: 0,
      },
    ],
  };
}

before(async () => {
  server = await startNatsServer("ops-dashboard");
  nc = await connect({ servers: server.url });
  const config = loadConfig({ NATS_URL: server.url, SLUICE_PARTITIONS: "4", SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0" });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const js = jetstream(nc);
  for (let i = 0; i < 12; i++) await js.publish(subjects.send("bulk", i % 4), "{}");
  for (let i = 0; i < 3; i++) await js.publish(subjects.send("critical", i % 4), "{}");
  adminKey = (await createApiKey(await new Kvm(nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["admin"], operator: true })).key;
  const now = Date.now();
  await publishDeadLetter(js, {
    v: 1,
    id: deadId,
    tenant: "acme",
    at: now,
    reason: { code: "mailbox_unknown", message: "550 5.1.1 user unknown" },
    message: {
      v: 1,
      id: deadId,
      requestId: deadId.split("-")[0] ?? "",
      tenant: "acme",
      tier: "transactional",
      mailFrom: "shop@acme.test",
      rcptTo: "gone@example.org",
      payload: { inline: { from: { address: "shop@acme.test" }, subject: "Your order", text: "Thanks" } },
      createdAt: now - 60_000,
      attempts: [],
    },
    attempts: [{ at: now, code: 550, text: "5.1.1 user unknown", outcome: "bounce" }],
  });
  // A sender domain whose DKIM record went missing: the dashboard shows it failed and what is missing.
  await putDomainEntry(await new Kvm(nc).open(KV_BUCKETS.domains), {
    v: 1,
    tenant: "acme",
    domain: "shop.acme.test",
    status: "failed",
    reason: "no TXT record at s1._domainkey.shop.acme.test",
    keys: [{ selector: "s1", publicKey: "PUB", sealedKey: "v1.x.y.z", state: "active", uploaded: false, createdAt: now }],
    checks: [{ name: "s1._domainkey.shop.acme.test", type: "TXT", purpose: "dkim", selector: "s1", ok: false, found: [] }],
    createdAt: now,
    updatedAt: now,
    checkedAt: now,
  });
  let tick = 0;
  publisher = setInterval(() => {
    tick++;
    nc.publish(statsSubject("node-ui"), JSON.stringify(snapshot(Date.now(), tick)));
  }, 250);
  gateway = await startGateway(config, pino({ level: "silent" }), nc);
});

after(async () => {
  if (publisher) clearInterval(publisher);
  await browser?.close();
  await gateway?.close();
  await nc?.close();
  await server?.dispose();
  rmSync(profileDir, { recursive: true, force: true });
});



test("the dashboard shows tiers, destinations and nodes, and its charts draw the last hour's data", async () => {
  // Let the gateway take a few 2-second history samples first.
  await waitFor("three history samples", async () => {
    const res = await fetch(`http://127.0.0.1:${gateway.port}/v1/stats`, { headers: { authorization: `Bearer ${adminKey}` } });
    const stats = (await res.json()) as { history: unknown[] };
    return stats.history.length >= 3 ? true : undefined;
  }, 20_000, 250);

  // A fresh profile directory per run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    viewport: { width: 1800, height: 1100 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`http://127.0.0.1:${gateway.port}/dashboard`);
  await page.fill("#api-key", adminKey);
  await page.click("#key-form button[type=submit]");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 15_000 });
  await page.waitForFunction(() => Number(document.getElementById("chart-throughput")?.dataset.points ?? 0) >= 6, undefined, { timeout: 15_000 });

  const tiers = await page.$$eval(".card[data-tier]", (cards) => cards.map((c) => [c.getAttribute("data-tier"), c.querySelector(".value")?.textContent]));
  assert.deepEqual(tiers, [
    ["critical", "3"],
    ["transactional", "0"],
    ["bulk", "12"],
  ]);
  const rows = await page.$$eval("#destinations tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  const gmail = rows.find((r) => r[0] === "gmail.com");
  assert.equal(gmail?.[1], "throttled");
  assert.equal(gmail?.[3], "4.0 of 20.0");
  assert.equal(gmail?.[4], "2 / 5");
  const org = rows.find((r) => r[0] === "example.org");
  assert.ok(Number(org?.[2]) > 20, `example.org delivers about 40/s, shown ${org?.[2]}`);
  assert.equal(await page.$$eval("#nodes tbody tr", (trs) => trs.length), 1);

  // The charts render with data: count pixels of each series' colour on the canvas.
  // Passed as source text: tsx's name-keeping helper (__name) does not exist in the page.
  // A line drawn from two or three 2-second samples on a one-minute axis is only a few
  // pixels long, so poll until every series has grown past the threshold (or time is up).
  let coloured: Record<string, number> = {};
  const drawnEnough = () => Object.values(coloured).every((pixels) => pixels > 40);
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    coloured = (await page.evaluate(COUNT_SERIES_PIXELS)) as Record<string, number>;
    if (drawnEnough()) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const [series, pixels] of Object.entries(coloured)) assert.ok(pixels > 40, `${series} drew ${pixels} pixels`);

  // Egress sources (issue 19): one row per source and destination, warm-up day and what is left today.
  const sources = await page.$$eval("#sources tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
  assert.deepEqual(sources, [
    ["mta1", "127.0.0.2", "gmail.com", "ok", "1,200", "1", "3", "50 / 200"],
    ["mta2", "192.0.2.1", "gmail.com", "suspended", "0", "0", "–", "–"],
  ]);

  const shot = await page.screenshot({ fullPage: true });
  assert.ok(shot.length > 10_000, "a real screenshot");
  if (process.env.SLUICE_DASHBOARD_SCREENSHOT) writeFileSync(process.env.SLUICE_DASHBOARD_SCREENSHOT, shot);
  assert.deepEqual(errors, []);
});

test("the dashboard lists the tenant's dead letters and replays one back onto MAIL_SEND", async () => {
  assert.ok(page, "the previous test opened the dashboard");
  const row = page.locator(`#dlq tbody tr[data-id="${deadId}"]`);
  await row.waitFor({ timeout: 15_000 });
  assert.match((await row.textContent()) ?? "", /gone@example\.org.*mailbox_unknown/);
  const jsm = await jetstreamManager(nc);
  const queuedBefore = (await jsm.streams.info(STREAMS.send)).state.messages;
  await row.locator("button.replay").click();
  await row.waitFor({ state: "detached", timeout: 10_000 });
  const queuedAfter = (await jsm.streams.info(STREAMS.send)).state.messages;
  assert.equal(queuedAfter, queuedBefore + 1, "the replayed message is back on MAIL_SEND");
  assert.equal((await jsm.streams.info(STREAMS.dlq)).state.messages, 0);
});

test("the dashboard lists the tenant's sender domains with their state and missing records", async () => {
  assert.ok(page, "the first test opened the dashboard");
  const row = page.locator('#domains tbody tr[data-status="failed"]');
  await row.waitFor({ timeout: 15_000 });
  assert.match((await row.textContent()) ?? "", /shop\.acme\.test.*failed \(no TXT record at s1\._domainkey\.shop\.acme\.test\).*s1.*dkim:s1, spf, dmarc, return_path/);
});

test("/v1/stats takes an operator admin key, and ?since= returns only newer samples", async () => {
  const base = `http://127.0.0.1:${gateway.port}/v1/stats`;
  assert.equal((await fetch(base)).status, 401);
  const auth = { headers: { authorization: `Bearer ${adminKey}` } };
  const all = (await (await fetch(base, auth)).json()) as { history: { at: number }[] };
  const first = all.history[0];
  assert.ok(first, "some history");
  const newer = (await (await fetch(`${base}?since=${first.at}`, auth)).json()) as { history: { at: number }[] };
  assert.ok(newer.history.every((s) => s.at > first.at));
  assert.ok(newer.history.length < all.history.length + 2);
  assert.equal((await fetch(`${base}?since=soon`, auth)).status, 400);
});

test("the tenant panel shows every tenant's backlog, quota use and status to an operator key, and a tenant key only its own", async () => {
  assert.ok(page, "the first test opened the dashboard with the operator key");
  const kvm = new Kvm(nc);
  const [tenants, counters, keys] = await Promise.all([kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.tenantCounters), kvm.open(KV_BUCKETS.keys)]);
  await setTenantSettings(tenants, "acme", { dailyQuota: 1000, onQuota: "hold" });
  await counters.put(quotaCounterKey("acme", utcDay(Date.now())), "5");
  await setBreaker(tenants, "bravo", { status: "paused", since: Date.now(), reason: "bounce rate 12.00% of 600 recipients sent in the last 24 h reached the pause threshold 10.00%" });
  const cells = (tenant: string) => page!.$$eval(`#tenants tbody tr[data-tenant="${tenant}"] td`, (tds) => tds.map((td) => td.textContent));
  await page.locator('#tenants tbody tr[data-tenant="bravo"]').waitFor({ timeout: 15_000 });
  // The scheduler leader's count of what waits for the quota (faked here, as the node snapshots are).
  const volume = { at: Date.now(), hours: Array.from({ length: 24 }, () => 0), later: 0, total: 7, requests: 1, heldForQuota: { acme: 7 } };
  const acme = await waitFor("acme's row with its quota and what is held over it", async () => {
    nc.publish(subjects.scheduleVolume, JSON.stringify(volume));
    const c = await cells("acme");
    return c[6] === "5 / 1000 (hold)" && c[4] === "7" ? c : undefined;
  }, 15_000, 250);
  assert.equal(acme[1], "healthy");
  assert.equal(acme[2], "13", "in flight on the nodes");
  assert.match((await cells("bravo"))[1] ?? "", /^paused \(bounce rate 12\.00%/);

  // A tenant's own key: the gateway answers its row only, and the panel shows only that.
  const bravoKey = (await createApiKey(keys, { tenant: "bravo", scopes: ["read"] })).key;
  const own = (await (await fetch(`http://127.0.0.1:${gateway.port}/v1/tenants`, { headers: { authorization: `Bearer ${bravoKey}` } })).json()) as { scope: string; tenants: { tenant: string }[] };
  assert.equal(own.scope, "tenant");
  assert.deepEqual(own.tenants.map((t) => t.tenant), ["bravo"]);
  await page.fill("#api-key", bravoKey);
  await page.click("#key-form button[type=submit]");
  await page.locator('#tenants tbody tr[data-tenant="acme"]').waitFor({ state: "detached", timeout: 15_000 });
  assert.deepEqual(await page.$$eval("#tenants tbody tr", (trs) => trs.map((tr) => tr.getAttribute("data-tenant"))), ["bravo"]);
});
