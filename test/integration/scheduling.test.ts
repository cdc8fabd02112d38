import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { startScheduler, type Scheduler } from "../../actors/scheduler/index.ts";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS, STREAMS } from "../../protocol/index.ts";
import {
  createApiKey,
  createProducer,
  ensureTopology,
  topologyFor,
  topologyOptionsFrom,
} from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { kill9, spawnTs, terminate, type Child } from "./cluster-helpers/children.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

/**
 * Scheduling end to end, through the real gateway, node, fan-out and scheduler (one
 * pipeline for all the tests): sendAt holds mail until its time, cancel and reschedule act
 * on what is not released, deliverOver spreads a batch, a closed window holds it, and
 * expiresAt ends mail `expired` on every path without ever delivering it afterwards.
 * First, the scheduler runs in a child process that dies in the middle of a release; the
 * in-process one that takes over then serves the other tests, which run concurrently
 * (each waits mostly on the clock, on domains of its own).
 */
let p: Pipeline;
let child: Child | undefined;
let successor: Scheduler | undefined;

before(async () => {
  p = await startPipeline(
    {
      domains: {
        // Defers three times, then would accept: an expiry in between must end it first.
        "slow.test": { rcpt: ({ attempt }) => (attempt <= 3 ? { code: 451, text: "4.3.0 Temporary system problem" } : undefined) },
      },
    },
    // The scheduler is not one of the pipeline's services here: the tests start their own.
    { SLUICE_RETRY_SCHEDULE: "1s", SLUICE_RETRY_JITTER: "0", SLUICE_LEASE_TTL: "2s", SLUICE_NODE_ROLES: "delivery,fanout,events,webhooks" },
  );
});

after(async () => {
  if (child) await terminate(child, 2000);
  await successor?.close();
  await p?.close();
});

const message = (over: Record<string, unknown>) => ({ from: "Acme <news@acme.test>", subject: "Later", text: "Hi", ...over });
const deliveredTo = (rcpt: string) => p.peer.messages.filter((m) => m.rcptTo.includes(rcpt));

async function send(body: Record<string, unknown>): Promise<{ requestId: string; id: string }> {
  const res = await p.api("POST", "/v1/messages", message(body));
  assert.equal(res.status, 202, JSON.stringify(res.json));
  return { requestId: res.json.id as string, id: (res.json.recipients as { id: string }[])[0]?.id as string };
}

const statusOf = async (id: string): Promise<string | undefined> => {
  const res = await p.api("GET", `/v1/messages/${id}`);
  return res.status === 200 ? (res.json.status as string) : undefined;
};
const untilStatus = (id: string, status: string, ms = 15_000) => waitFor(`${id} ${status}`, async () => ((await statusOf(id)) === status ? true : undefined), ms, 100);

/** The scheduler has handled the request at its due time: its held messages are gone from MAIL_SCHEDULED. */
const untilHandled = (requestId: string) =>
  waitFor(`${requestId} handled by the scheduler`, async () => {
    const filter = `mail.sched.held.${requestId}.>`;
    const info = await (await jetstreamManager(p.world.nc)).streams.info(STREAMS.scheduled, { subjects_filter: filter });
    return Object.keys(info.state.subjects ?? {}).length === 0 ? true : undefined;
  }, 15_000, 100);

test("a scheduler killed in the middle of a release: another finishes it, nothing lost or doubled", { timeout: 60_000 }, async () => {
  const n = 40;
  child = spawnTs("scheduler", new URL("./support/scheduler-child.ts", import.meta.url), {
    NATS_URL: p.world.nats.url,
    SLUICE_LEASE_TTL: "2s",
    SLUICE_NODE_ID: "doomed",
    // Dies after 7 of a window's messages reached MAIL_SEND: only the 40-recipient batch's slices (20) are that large.
    CRASH_AFTER_SEND: "7",
  });
  await waitFor("the child to lead", () => (child?.lines.some((l) => l.leader === true) ? true : undefined), 15_000);
  successor = await startScheduler(p.world.nc, { nodeId: "successor", leaseTtlMs: 2000 }, p.world.logger);
  assert.equal(successor.isLeader(), false);

  // Through the producer SDK this time: the same validation and messages as the gateway.
  const producer = await createProducer(p.world.nc, { tenant: "acme", partitions: p.world.config.partitions });
  const recipients = Array.from({ length: n }, (_, i) => ({ to: `r${i}@crash.test` }));
  await producer.sendBatch({ from: "news@acme.test", subject: "Paced", text: "Hi", recipients, deliverOver: "2s" });

  const code = await Promise.race([child.exited, new Promise<string>((r) => setTimeout(() => r("alive"), 20_000))]);
  if (code === "alive") kill9(child);
  assert.ok(child.lines.some((l) => l.crashing === true), "the child died in the middle of a release");

  const crashed = () => p.peer.messages.filter((m) => m.domain === "crash.test");
  await waitFor("every recipient delivered", () => (new Set(crashed().map((m) => m.rcptTo[0])).size >= n ? true : undefined), 30_000);
  assert.equal(successor.isLeader(), true, "the successor took the lease over");
  const jsm = await jetstreamManager(p.world.nc);
  await waitFor("nothing left to release or send", async () =>
    (await jsm.streams.info(STREAMS.scheduled)).state.messages === 0 && (await jsm.streams.info(STREAMS.send)).state.messages === 0 ? true : undefined,
  15_000, 100);
  assert.equal(crashed().length, n, "no recipient delivered twice");
});

describe("with the successor scheduler", { concurrency: true }, () => {
  test("sendAt: scheduled until its time, delivered shortly after, never before", async () => {
    const sendAt = Date.now() + 3000;
    const { id } = await send({ to: "ann@later.test", sendAt: new Date(sendAt).toISOString() });
    const [got] = await waitFor("delivery", () => (deliveredTo("ann@later.test").length > 0 ? deliveredTo("ann@later.test") : undefined), 15_000);
    assert.ok(got && got.at >= sendAt, `delivered ${got ? got.at - sendAt : "?"} ms after sendAt`);
    assert.ok(got.at - sendAt < 6000, `delivered shortly after sendAt (${got.at - sendAt} ms)`);
    await untilStatus(id, "delivered");
    // Its history: scheduled (with the time), queued at release, delivered.
    const events = (await p.api("GET", `/v1/messages/${id}`)).json.events as { type: string; nextAttemptAt?: number }[];
    assert.deepEqual(events.map((e) => e.type).filter((t) => t !== "accepted"), ["scheduled", "queued", "delivered"]);
    assert.equal(events.find((e) => e.type === "scheduled")?.nextAttemptAt, sendAt);
  });

  test("cancel before release: never delivered, status cancelled; what was sent at once answers 409", async () => {
    const { requestId, id } = await send({ to: ["bob@later.test", "cy@later.test"], sendAt: Date.now() + 4000 });
    // Another tenant can neither cancel nor move it, nor see it in its volume.
    const globex = (await createApiKey(await new Kvm(p.world.nc).open(KV_BUCKETS.keys), { tenant: "globex", scopes: ["admin"] })).key;
    assert.equal((await p.api("POST", `/v1/messages/${requestId}/cancel`, undefined, globex)).status, 404);
    assert.equal((await p.api("PATCH", `/v1/messages/${requestId}`, { sendAt: Date.now() }, globex)).status, 404);
    assert.equal((await p.api("GET", "/v1/schedules/volume", undefined, globex)).json.total, 0);
    const res = await p.api("POST", `/v1/messages/${requestId}/cancel`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.deepEqual([res.json.cancelled, res.json.alreadySent], [2, 0]);
    assert.equal((await p.api("POST", `/v1/messages/${requestId}/cancel`)).status, 409, "cancelled already");
    await untilStatus(id, "cancelled");
    await untilHandled(requestId); // its due time has come and gone
    assert.equal(deliveredTo("bob@later.test").length + deliveredTo("cy@later.test").length, 0);

    const now = await send({ to: "dee@later.test" });
    await untilStatus(now.id, "delivered");
    const late = await p.api("POST", `/v1/messages/${now.requestId}/cancel`);
    assert.equal(late.status, 409, JSON.stringify(late.json));
    assert.equal(late.json.alreadySent, 1);
    // Another tenant's request is not found.
    assert.equal((await p.api("POST", `/v1/messages/${"0".repeat(26)}/cancel`)).status, 404);
  });

  test("reschedule moves a message later or sooner", async () => {
    const t0 = Date.now();
    const later = await send({ to: "eve@later.test", sendAt: t0 + 3000 });
    const sooner = await send({ to: "fay@later.test", sendAt: t0 + 60_000 });
    const moved = await p.api("PATCH", `/v1/messages/${later.requestId}`, { sendAt: t0 + 6000 });
    assert.equal(moved.status, 200, JSON.stringify(moved.json));
    assert.equal((await p.api("PATCH", `/v1/messages/${sooner.requestId}`, { sendAt: t0 + 2000 })).status, 200);
    await waitFor("the sooner one", () => (deliveredTo("fay@later.test").length > 0 ? true : undefined), 15_000);
    const [eve] = await waitFor("the later one", () => (deliveredTo("eve@later.test").length > 0 ? deliveredTo("eve@later.test") : undefined), 15_000);
    assert.ok(eve && eve.at >= t0 + 6000, "not released at its first time");
    assert.ok((deliveredTo("fay@later.test")[0]?.at ?? Infinity) < t0 + 10_000);
    assert.equal((await p.api("PATCH", `/v1/messages/${later.requestId}`, { sendAt: t0 + 9000 })).status, 409, "released: nothing to move");
  });

  test("deliverOver spreads a batch: arrivals at the peer show no burst", async () => {
    const n = 12;
    const recipients = Array.from({ length: n }, (_, i) => ({ to: `r${i}@spread.test` }));
    const res = await p.api("POST", "/v1/batches", { ...message({}), recipients, deliverOver: "6s" });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    const got = await waitFor("all recipients", () => {
      const list = p.peer.messages.filter((m) => m.domain === "spread.test");
      return list.length >= n ? list : undefined;
    }, 20_000);
    const times = got.map((m) => m.at).sort((a, b) => a - b);
    const span = (times[n - 1] as number) - (times[0] as number);
    // Planned over 5 s (6 slices a second apart); the first may go out up to ~2 s late (fan-out not done yet).
    assert.ok(span >= 3000, `spread over ${span} ms`);
    // 12 over 6 s is 2 a second; a burst would bring all 12 at once. At most half arrive within
    // any one second (room for a release catching up and for delivery jitter on a busy machine).
    for (const t of times) assert.ok(times.filter((u) => u >= t && u < t + 1000).length <= 6, `burst at ${t}: ${times.map((u) => u - (times[0] as number)).join(",")}`);
    assert.equal(new Set(got.map((m) => m.rcptTo[0])).size, n, "each once");
  });

  test("a window closed now holds a whole batch; cancelling it cancels every recipient", async () => {
    const hour = new Date(Date.now() + 3 * 3_600_000).getUTCHours();
    const hh = (h: number) => `${String(h % 24).padStart(2, "0")}:00`;
    const recipients = Array.from({ length: 5 }, (_, i) => ({ to: `w${i}@window.test` }));
    const res = await p.api("POST", "/v1/batches", { ...message({}), recipients, window: { start: hh(hour), end: hh(hour + 1), tz: "UTC" } });
    assert.equal(res.status, 202);
    const batchId = res.json.batchId as string;
    await waitFor("every recipient scheduled", async () => {
      const b = await p.api("GET", `/v1/batches/${batchId}`);
      return (b.json.counts as Record<string, number>).scheduled === 5 ? true : undefined;
    }, 15_000, 100);
    assert.equal(p.peer.messages.filter((m) => m.domain === "window.test").length, 0);
    // The scheduled volume shows them in the hour the window opens (2–3 h from now).
    const volume = await p.api("GET", "/v1/schedules/volume");
    assert.equal(volume.status, 200);
    assert.ok((volume.json.hours as number[])[2] as number >= 5, JSON.stringify(volume.json));
    const cancel = await p.api("POST", `/v1/batches/${batchId}/cancel`);
    assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
    assert.equal(cancel.json.cancelled, 5);
    await waitFor("every recipient cancelled", async () => {
      const b = await p.api("GET", `/v1/batches/${batchId}`);
      return (b.json.counts as Record<string, number>).cancelled === 5 ? true : undefined;
    }, 15_000, 100);
  });

  test("expiresAt: a deferring destination's message ends expired and is never delivered; a held one expires unreleased", async () => {
    const { id } = await send({ to: "gus@slow.test", ttl: "3s" });
    await untilStatus(id, "expired");
    assert.ok(p.peer.rejected.some((r) => r.address === "gus@slow.test"), "it was tried (and deferred) first");
    // Acked when it expired (the event comes before the ack): nothing of it is left to retry,
    // so the peer, which would accept a fourth try, never gets it.
    assert.equal(deliveredTo("gus@slow.test").length, 0);

    // Held behind a closed window until its expiry: the scheduler ends it.
    const hour = new Date(Date.now() + 3 * 3_600_000).getUTCHours();
    const hh = (h: number) => `${String(h % 24).padStart(2, "0")}:00`;
    const res = await p.api("POST", "/v1/batches", { ...message({}), recipients: [{ to: "hal@held.test" }], window: { start: hh(hour), end: hh(hour + 1), tz: "UTC" }, ttl: "2s" });
    assert.equal(res.status, 202);
    await untilStatus(`${res.json.batchId as string}-0`, "expired");
    assert.equal(deliveredTo("hal@held.test").length, 0);
  });

  test("a longer horizon raises the TTLs of buckets that exist already (payloads, statuses)", async () => {
    const jsm = await jetstreamManager(p.world.nc);
    const before = (await jsm.streams.info("OBJ_mail_payloads")).config.max_age;
    // The pipeline's own settings but a 90-day horizon (the running consumers stay as they are).
    const config = { ...p.world.config, schedule: { horizonMs: 90 * 86_400_000 } };
    await ensureTopology(p.world.nc, topologyFor(topologyOptionsFrom(config)));
    const after = (await jsm.streams.info("OBJ_mail_payloads")).config.max_age;
    assert.ok(after > before, `${before} → ${after}`);
    assert.equal(after, (90 * 86_400_000 + config.retry.maxAgeMs + 86_400_000) * 1_000_000);
    assert.ok((await jsm.streams.info("KV_sluice_status")).config.max_age >= (90 * 86_400_000) * 1_000_000);
  });
});
