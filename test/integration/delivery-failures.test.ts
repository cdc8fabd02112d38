import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { startNode, type ActorNode } from "../../actors/index.ts";
import {
  encode,
  KV_BUCKETS,
  newId,
  partitionOf,
  subjects,
} from "../../protocol/index.ts";
import { addSuppression, getSuppression } from "../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { message, publish, readDeadLetters, readEvents, sendStreamMessages, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

// Seconds-scale retry schedule: 1 s, then 2 s, for at most 6 s.
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;

before(async () => {
  peer = await startSmtpPeer({
    domains: {
      "defer.test": { rcpt: ({ attempt }) => (attempt <= 2 ? { code: 450, text: "4.2.1 mailbox busy, try later" } : undefined) },
      "unknown.test": { rcpt: () => ({ code: 550, text: "5.1.1 The email account that you tried to reach does not exist" }) },
      "always4xx.test": { rcpt: () => ({ code: 451, text: "4.3.0 temporary local problem" }) },
    },
  });
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_RETRY_SCHEDULE: "1s,2s", SLUICE_MAX_AGE: "6s", SLUICE_RETRY_JITTER: "0" });
  // Suppressed before the node starts: its cache loads the list at start, whereas an entry
  // added while it runs arrives by a KV watch a moment later (a race on a busy machine).
  await addSuppression(await new Kvm(world.nc).open(KV_BUCKETS.suppressions), "acme", { address: "dora@quiet.test", reason: "manual", at: Date.now() });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
});

test("450 then 250: delivered after two retries, each deferral an event with its reply and next attempt", async () => {
  const m = message("ann@defer.test");
  await publish(world, [m]);
  const delivered = await waitFor("delivered", async () => (await readEvents(world)).find((e) => e.messageId === m.id && e.type === "delivered"), 20_000);
  assert.equal(delivered.attempt, 3);
  const deferred = (await readEvents(world)).filter((e) => e.messageId === m.id && e.type === "deferred").sort((a, b) => (a.attempt ?? 0) - (b.attempt ?? 0));
  assert.deepEqual(deferred.map((e) => e.attempt), [1, 2]);
  for (const e of deferred) {
    assert.equal(e.reply?.code, 450);
    assert.equal(e.mx, "127.0.0.1");
    assert.ok((e.nextAttemptAt ?? 0) > e.at);
  }
  assert.equal(peer.messagesFor("defer.test").length, 1);
});

test("550 5.1.1: bounced, the address suppressed, the message in MAIL_DLQ with its reply", async () => {
  const m = message("Ghost@unknown.test", { tenant: "acme" });
  await publish(world, [m]);
  const dl = await waitFor("dead letter", async () => (await readDeadLetters(world)).find((d) => d.id === m.id), 15_000);
  assert.equal(dl.reason.code, "bounce");
  assert.equal(dl.reason.category, "unknown_user");
  assert.equal(dl.attempts.length, 1);
  assert.equal(dl.attempts[0]?.code, 550);
  const types = (await readEvents(world)).filter((e) => e.messageId === m.id).map((e) => e.type);
  assert.ok(types.includes("bounced") && types.includes("dead_lettered"), types.join(","));
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.suppressions);
  const s = await getSuppression(kv, "acme", "ghost@unknown.test");
  assert.equal(s?.reason, "hard_bounce");
  await waitFor("acked", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined));
});

test("a peer that always answers 4xx: dead-lettered after the max age with every attempt recorded", async () => {
  const m = message("carl@always4xx.test");
  await publish(world, [m]);
  const dl = await waitFor("dead letter", async () => (await readDeadLetters(world)).find((d) => d.id === m.id), 20_000);
  assert.equal(dl.reason.code, "max_age");
  const offered = peer.rejected.filter((r) => r.address === "carl@always4xx.test").length;
  assert.ok(offered >= 3, `peer saw ${offered} attempts`);
  assert.equal(dl.attempts.length, offered);
  assert.ok(dl.attempts.every((a) => a.code === 451 && a.outcome === "retry" && a.mx === "127.0.0.1"));
  const types = (await readEvents(world)).filter((e) => e.messageId === m.id).map((e) => e.type);
  assert.ok(types.includes("failed") && types.includes("dead_lettered"), types.join(","));
});

test("a suppressed address gets a suppressed event and no SMTP attempt", async () => {
  const m = message("Dora@quiet.test");
  await publish(world, [m]);
  const e = await waitFor("suppressed event", async () => (await readEvents(world)).find((x) => x.messageId === m.id && x.type === "suppressed"), 15_000);
  assert.equal(e.reason, "manual");
  assert.equal(peer.messagesFor("quiet.test").length, 0);
  assert.equal(peer.rejected.filter((r) => r.domain === "quiet.test").length, 0);
});

test("an invalid message with a readable tenant and id is dead-lettered; one without is dead-lettered under _unknown", async () => {
  const id = `${newId()}-0`;
  const p = partitionOf("bad.test", world.config.partitions);
  await world.js.publish(subjects.send("transactional", p), encode({ v: 1, id, tenant: "acme", tier: "transactional", rcptTo: "x@bad.test" }));
  await world.js.publish(subjects.send("transactional", p), Buffer.from("not json at all"));
  await waitFor("both gone from MAIL_SEND", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined), 15_000);
  const ids = await rawDlqIds(world);
  assert.ok(ids.includes(id), `dlq holds ${ids.join(",")}`);
  assert.ok(ids.some((x) => /^seq-\d+$/.test(x)), `dlq holds ${ids.join(",")}`);
});

async function rawDlqIds(w: DeliveryWorld): Promise<string[]> {
  const consumer = await w.js.consumers.get("MAIL_DLQ");
  const out: string[] = [];
  const iter = await consumer.fetch({ max_messages: 100, expires: 2000 });
  for await (const m of iter) {
    out.push(String((m.json() as { id?: unknown }).id));
    if (m.info.pending === 0) break;
  }
  return out;
}
