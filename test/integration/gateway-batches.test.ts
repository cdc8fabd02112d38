import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { startFanout, type Fanout } from "../../actors/fanout/index.ts";
import { BatchJob, decode, DeliveryMessage, MailEvent, STREAMS, subjects } from "../../protocol/index.ts";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";
import { waitFor } from "../harness/ports.ts";

let fx: GatewayFixture;
let acme: string;
let globex: string;
let fanout: Fanout | undefined;

before(async () => {
  fx = await startGatewayFixture({ SLUICE_MAX_BATCH_SIZE: "256KB" });
  acme = await fx.key("acme");
  globex = await fx.key("globex");
});
after(async () => {
  await fanout?.close();
  await fx?.close();
});

const batch = (n: number, over: Record<string, unknown> = {}) => ({
  from: "news@acme.test",
  subject: "Hello {{name}}",
  html: "<p>Hi {{name}}</p>",
  recipients: Array.from({ length: n }, (_, i) => ({ to: `r${i}@example${i % 3}.com`, vars: { name: `R${i}` } })),
  ...over,
});

test("202 after one job on MAIL_JOBS; the batch is queued, then expanded by the fan-out actor", async () => {
  const res = await fx.post("/v1/batches", batch(250), acme);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(res.body.accepted, 250);
  const batchId: string = res.body.batchId;

  const job = await fx.jsm.streams.getMessage(STREAMS.jobs, { last_by_subj: subjects.jobs });
  assert.ok(job);
  const decoded = decode(BatchJob, job.data, "job");
  assert.ok(decoded.ok);
  assert.equal(decoded.value.batchId, batchId);
  assert.equal(decoded.value.tier, "bulk");
  assert.equal(decoded.value.recipients.count, 250);

  const queued = await fx.get(`/v1/batches/${batchId}`, acme);
  assert.equal(queued.status, 200);
  assert.deepEqual([queued.body.total, queued.body.expanded, queued.body.state], [250, 0, "queued"]);
  // Nothing indexed yet: every recipient counts as queued (the counting itself: status-index.test.ts).
  assert.deepEqual(queued.body.counts, { queued: 250, deferred: 0, delivered: 0, bounced: 0, failed: 0, suppressed: 0, dead_lettered: 0, scheduled: 0, cancelled: 0, expired: 0, held: 0 });

  const event = await fx.jsm.streams.getMessage(STREAMS.events, { last_by_subj: subjects.event("acme", "accepted") });
  assert.ok(event);
  const e = decode(MailEvent, event.data, "event");
  assert.ok(e.ok);
  assert.equal(e.value.batchId, batchId);
  assert.equal(e.value.metadata?.recipients, "250");

  const before = await fx.sendCount();
  fanout = startFanout(fx.nc, fx.config, pino({ level: "silent" }));
  const done = await waitFor("expansion", async () => {
    const r = await fx.get(`/v1/batches/${batchId}`, acme);
    return r.body.state === "expanded" ? r.body : undefined;
  });
  assert.equal(done.expanded, 250);
  assert.equal(await fx.sendCount(), before + 250);
  const last = await fx.jsm.streams.getMessage(STREAMS.send, { seq: (await fx.jsm.streams.info(STREAMS.send)).state.last_seq });
  assert.ok(last);
  const m = last.json<DeliveryMessage>();
  assert.ok(DeliveryMessage.safeParse(m).success);
  assert.equal(m.batchId, batchId);
  assert.equal(m.vars?.name, `R${Number(m.id.split("-")[1])}`);
});

test("another tenant's batch is a 404, as is an unknown or malformed id", async () => {
  const res = await fx.post("/v1/batches", batch(3), acme);
  assert.equal(res.status, 202);
  const foreign = await fx.get(`/v1/batches/${res.body.batchId}`, globex);
  assert.equal(foreign.status, 404);
  assert.equal(foreign.body.error.code, "not_found");
  assert.equal((await fx.get(`/v1/batches/01jabcdefghjkmnpqrstvwxyz0`, acme)).status, 404);
  assert.equal((await fx.get(`/v1/batches/..%2Fkeys`, acme)).status, 404);
  assert.equal((await fx.get(`/v1/batches/${res.body.batchId}`, acme)).status, 200);
});

test("reading a batch needs the read scope", async () => {
  const sender = await fx.key("acme", ["send"]);
  const res = await fx.post("/v1/batches", batch(2), sender);
  assert.equal(res.status, 202);
  assert.equal((await fx.get(`/v1/batches/${res.body.batchId}`, sender)).status, 403);
  assert.equal((await fx.get(`/v1/batches/${res.body.batchId}`, undefined)).status, 401);
});

test("400 naming the recipient at fault, 400 for no recipients, 413 over the batch size", async () => {
  const bad = batch(5);
  (bad.recipients[3] as { to: string }).to = "x@exa\r\nmple.com";
  const r1 = await fx.post("/v1/batches", bad, acme);
  assert.equal(r1.status, 400);
  assert.equal(r1.body.error.field, "recipients.3.to");
  const r2 = await fx.post("/v1/batches", batch(0), acme);
  assert.equal(r2.status, 400);
  assert.equal(r2.body.error.field, "recipients");
  const r3 = await fx.post("/v1/batches", batch(3, { tier: "express" }), acme);
  assert.equal(r3.status, 400);
  assert.equal(r3.body.error.code, "unknown_tier");
  const r4 = await fx.post("/v1/batches", batch(8000), acme);
  assert.equal(r4.status, 413);
  assert.equal(r4.body.error.code, "payload_too_large");
});
