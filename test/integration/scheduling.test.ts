import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { STREAMS } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

/**
 * Scheduling end to end, through the real gateway, node, fan-out and scheduler (one
 * pipeline for all the tests): sendAt holds mail until its time, cancel and reschedule act
 * on what is not released, deliverOver spreads a batch, a closed window holds it, and
 * expiresAt ends mail `expired` on every path without ever delivering it afterwards.
 */
let p: Pipeline;

before(async () => {
  p = await startPipeline(
    {
      domains: {
        // Defers three times, then would accept: an expiry in between must end it first.
        "slow.test": { rcpt: ({ attempt }) => (attempt <= 3 ? { code: 451, text: "4.3.0 Temporary system problem" } : undefined) },
      },
    },
    { SLUICE_RETRY_SCHEDULE: "1s", SLUICE_RETRY_JITTER: "0" },
  );
});

after(async () => {
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

/** Nothing left on MAIL_SCHEDULED: every due entry was handled and every held message released or dropped. */
const untilSchedulerIdle = () =>
  waitFor("MAIL_SCHEDULED empty", async () => ((await (await jetstreamManager(p.world.nc)).streams.info(STREAMS.scheduled)).state.messages === 0 ? true : undefined), 15_000, 100);

test("sendAt: scheduled until its time, delivered shortly after, never before", async () => {
  const sendAt = Date.now() + 3000;
  const { id } = await send({ to: "ann@later.test", sendAt: new Date(sendAt).toISOString() });
  await untilStatus(id, "scheduled", 5000);
  assert.equal(deliveredTo("ann@later.test").length, 0, "not delivered while scheduled");
  const [got] = await waitFor("delivery", () => (deliveredTo("ann@later.test").length > 0 ? deliveredTo("ann@later.test") : undefined), 15_000);
  assert.ok(got && got.at >= sendAt, `delivered ${got ? got.at - sendAt : "?"} ms after sendAt`);
  assert.ok(got.at - sendAt < 4000, `delivered within 4 s of sendAt (${got.at - sendAt} ms)`);
  await untilStatus(id, "delivered");
});

test("cancel before release: never delivered, status cancelled; what was sent at once answers 409", async () => {
  const { requestId, id } = await send({ to: ["bob@later.test", "cy@later.test"], sendAt: Date.now() + 2000 });
  const res = await p.api("POST", `/v1/messages/${requestId}/cancel`);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  assert.deepEqual([res.json.cancelled, res.json.alreadySent], [2, 0]);
  assert.equal((await p.api("POST", `/v1/messages/${requestId}/cancel`)).status, 409, "cancelled already");
  await untilStatus(id, "cancelled");
  await untilSchedulerIdle(); // its due time has come and gone
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
  const later = await send({ to: "eve@later.test", sendAt: t0 + 1500 });
  const sooner = await send({ to: "fay@later.test", sendAt: t0 + 60_000 });
  const moved = await p.api("PATCH", `/v1/messages/${later.requestId}`, { sendAt: t0 + 5000 });
  assert.equal(moved.status, 200, JSON.stringify(moved.json));
  assert.equal((await p.api("PATCH", `/v1/messages/${sooner.requestId}`, { sendAt: t0 + 2000 })).status, 200);
  await waitFor("the sooner one", () => (deliveredTo("fay@later.test").length > 0 ? true : undefined), 15_000);
  const [eve] = await waitFor("the later one", () => (deliveredTo("eve@later.test").length > 0 ? deliveredTo("eve@later.test") : undefined), 15_000);
  assert.ok(eve && eve.at >= t0 + 5000, "not released at its first time");
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
  assert.ok(span >= 4000, `spread over ${span} ms`);
  // 12 over 6 s is 2 a second: never more than 4 arrive within any one second.
  for (const t of times) assert.ok(times.filter((u) => u >= t && u < t + 1000).length <= 4, `burst at ${t}: ${times.map((u) => u - (times[0] as number)).join(",")}`);
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
  const cancel = await p.api("POST", `/v1/batches/${batchId}/cancel`);
  assert.equal(cancel.status, 200, JSON.stringify(cancel.json));
  assert.equal(cancel.json.cancelled, 5);
  await waitFor("every recipient cancelled", async () => {
    const b = await p.api("GET", `/v1/batches/${batchId}`);
    return (b.json.counts as Record<string, number>).cancelled === 5 ? true : undefined;
  }, 15_000, 100);
});

test("expiresAt: a deferring destination's message ends expired and is never delivered; a held one expires unreleased", async () => {
  const { id } = await send({ to: "gus@slow.test", ttl: "2500ms" });
  await untilStatus(id, "expired");
  const s = await p.api("GET", `/v1/messages/${id}`);
  assert.ok((s.json.events as { type: string }[]).some((e) => e.type === "deferred"), `it was tried and deferred first: ${JSON.stringify(s.json.events)}`);
  // Acked on expiry: nothing of it is left to retry, so the peer (which would now accept) never gets it.
  await waitFor("MAIL_SEND empty", async () => ((await (await jetstreamManager(p.world.nc)).streams.info(STREAMS.send)).state.messages === 0 ? true : undefined), 10_000, 100);
  assert.equal(deliveredTo("gus@slow.test").length, 0);

  // Held behind a closed window until its expiry: the scheduler ends it.
  const hour = new Date(Date.now() + 3 * 3_600_000).getUTCHours();
  const hh = (h: number) => `${String(h % 24).padStart(2, "0")}:00`;
  const res = await p.api("POST", "/v1/batches", { ...message({}), recipients: [{ to: "hal@held.test" }], window: { start: hh(hour), end: hh(hour + 1), tz: "UTC" }, ttl: "2s" });
  assert.equal(res.status, 202);
  await untilStatus(`${res.json.batchId as string}-0`, "expired");
  assert.equal(deliveredTo("hal@held.test").length, 0);
});
