// sluice-test: serial (measures rates, concurrency or timing: scripts/test.sh runs it alone)
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import nodemailer from "nodemailer";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNatsCluster, startNatsServer } from "../harness/nats-server.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";

// The harness is what every integration test stands on, so it is tested like code.

const peers: SmtpPeer[] = [];
after(async () => {
  await Promise.all(peers.map((p) => p.close()));
});

function transport(port: number, extra: Record<string, unknown> = {}) {
  return nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true, ...extra });
}

const mail = (to: string) => ({ from: "sender@sluice.test", to, subject: "test", text: "body" });

test("smtp peer records accepted messages with envelope and raw MIME", async () => {
  const peer = await startSmtpPeer();
  peers.push(peer);
  const t = transport(peer.port);
  await t.sendMail(mail("ann@example.com"));
  assert.equal(peer.messages.length, 1);
  const m = peer.messages[0];
  assert.equal(m?.mailFrom, "sender@sluice.test");
  assert.deepEqual(m?.rcptTo, ["ann@example.com"]);
  assert.equal(m?.domain, "example.com");
  assert.match(m?.raw.toString() ?? "", /Subject: test/);
  t.close();
});

test("smtp peer scripts replies per recipient and per attempt", async () => {
  const peer = await startSmtpPeer({
    domains: {
      "defer.test": { rcpt: ({ attempt }) => (attempt === 1 ? { code: 450, text: "4.2.1 try later" } : undefined) },
      "bounce.test": { rcpt: () => ({ code: 550, text: "5.1.1 user unknown" }) },
      "full.test": { data: () => ({ code: 552, text: "5.2.2 mailbox full" }) },
    },
  });
  peers.push(peer);
  const t = transport(peer.port);
  await assert.rejects(t.sendMail(mail("a@defer.test")), (e: { responseCode?: number; response?: string }) => e.responseCode === 450 && /4\.2\.1 try later/.test(e.response ?? ""));
  await t.sendMail(mail("a@defer.test"));
  await assert.rejects(t.sendMail(mail("b@bounce.test")), (e: { responseCode?: number }) => e.responseCode === 550);
  await assert.rejects(t.sendMail(mail("c@full.test")), (e: { responseCode?: number }) => e.responseCode === 552);
  assert.deepEqual(peer.messages.map((m) => m.rcptTo[0]), ["a@defer.test"]);
  assert.equal(peer.rejected.length, 3);
  t.close();
});

test("smtp peer refuses connections over its cap and counts concurrency", async () => {
  const peer = await startSmtpPeer({ domains: { "busy.test": { maxConnections: 2, delayMs: 200 } } });
  peers.push(peer);
  const transports = Array.from({ length: 4 }, () => transport(peer.port));
  const results = await Promise.allSettled(transports.map((t, i) => t.sendMail(mail(`u${i}@busy.test`))));
  const refused = results.filter((r) => r.status === "rejected");
  assert.ok(refused.length >= 1, "at least one connection over the cap is refused");
  for (const r of refused) assert.equal((r as PromiseRejectedResult).reason.responseCode, 421);
  assert.ok((peer.maxConcurrent.get("busy.test") ?? 0) >= 3, "the peer saw the excess connections");
  for (const t of transports) t.close();
});

test("smtp peer rate-limits per second", async () => {
  const peer = await startSmtpPeer({ domains: { "slow.test": { maxPerSecond: 3 } } });
  peers.push(peer);
  const t = transport(peer.port);
  const outcomes: number[] = [];
  for (let i = 0; i < 5; i++) {
    await t.sendMail(mail(`u${i}@slow.test`)).then(
      () => outcomes.push(250),
      (e: { responseCode: number }) => outcomes.push(e.responseCode),
    );
  }
  assert.deepEqual(outcomes, [250, 250, 250, 421, 421]);
  t.close();
});

test("smtp peer can hang and drop mid-DATA", async () => {
  const peer = await startSmtpPeer({ domains: { "hang.test": { hang: true }, "drop.test": { dropMidData: true } } });
  peers.push(peer);
  const hanging = transport(peer.port, { socketTimeout: 300, greetingTimeout: 1000 });
  await assert.rejects(hanging.sendMail(mail("a@hang.test")), /timeout/i);
  const dropping = transport(peer.port);
  await assert.rejects(dropping.sendMail({ ...mail("a@drop.test"), text: "x".repeat(200_000) }));
  assert.equal(peer.messages.length, 0);
  hanging.close();
  dropping.close();
});

test("a 3-server cluster keeps an R3 stream writable with one server down, and cleans up", async () => {
  const cluster = await startNatsCluster(3);
  const dirs = cluster.servers.map((s) => s.storeDir);
  try {
    const nc = await connect({ servers: cluster.urls });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "R3TEST", subjects: ["r3.>"], num_replicas: 3 });
    const js = jetstream(nc);
    await js.publish("r3.a", "one");
    await cluster.servers[0]?.stop();
    let stored = false;
    for (let i = 0; i < 40 && !stored; i++) {
      stored = await js.publish("r3.b", "two", { timeout: 2000 }).then(() => true, () => false);
      if (!stored) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(stored, "publish succeeds with 2 of 3 servers");
    const info = await jsm.streams.info("R3TEST");
    assert.equal(info.state.messages, 2);
    await nc.close();
  } finally {
    await cluster.dispose();
  }
  for (const d of dirs) assert.ok(!existsSync(d), `${d} removed`);
});

test("a single server picks its own port and comes back on it after a restart, with its streams", async () => {
  const server = await startNatsServer("harness-restart");
  try {
    assert.ok(server.port > 0, "the port the server chose is known");
    const first = await connect({ servers: server.url });
    await jetstreamManager(first).then((jsm) => jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] }));
    await first.close();
    await server.stop();
    assert.equal(server.running(), false);
    await server.start();
    const again = await connect({ servers: server.url });
    const info = await (await jetstreamManager(again)).streams.info("KEEP");
    assert.equal(info.config.name, "KEEP");
    await again.close();
  } finally {
    await server.dispose();
  }
});
