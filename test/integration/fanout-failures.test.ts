import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { pino } from "pino";
import { startNodeServices, type NodeServices } from "../../actors/services.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import {
  buildBatchJob,
  encode,
  KV_BUCKETS,
  newId,
  OBJECT_STORES,
  parseBatchRequest,
  payloadOfBatch,
  recipientId,
  STREAMS,
  subjects,
} from "../../protocol/index.ts";
import { createApiKey, storePayload, storePayloadBytes } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * Issue 11: a batch that cannot be expanded (in full or in part) ends in state `failed`
 * with a reason, and every recipient that did not reach MAIL_SEND gets a terminal status.
 * No delivery node runs: what reaches MAIL_SEND stays there to be counted.
 */
let world: DeliveryWorld;
let services: NodeServices;
let gateway: Gateway;
let key: string;
let base: string;

before(async () => {
  world = await startWorld({ SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0" });
  services = await startNodeServices(world.nc, world.config, world.logger);
  gateway = await startGateway(world.config, pino({ level: "silent" }), world.nc, { keyCacheMs: 200 });
  base = `http://127.0.0.1:${gateway.port}`;
  key = (await createApiKey(await new Kvm(world.nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["admin"] })).key;
});

after(async () => {
  await gateway?.close();
  await services?.close();
  await world?.dispose();
});

async function get(path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const finalState = (batchId: string) =>
  waitFor(`batch ${batchId} to leave queued/expanding`, async () => {
    const r = await get(`/v1/batches/${batchId}`);
    return r.status === 200 && (r.json.state === "failed" || r.json.state === "expanded") ? r.json : undefined;
  });

const statusOf = (id: string, want: string) =>
  waitFor(`status ${want} for ${id}`, async () => {
    const r = await get(`/v1/messages/${id}`);
    return r.status === 200 && r.json.status === want ? r.json : undefined;
  });

test("a recipient whose message exceeds max_payload fails with a reason; the rest of the batch still goes out", async () => {
  const jsm = await jetstreamManager(world.nc);
  const before = (await jsm.streams.info(STREAMS.send)).state.messages;
  // 120 vars of 10,000 characters: 1.2 MB for one recipient, over the default 1 MB max_payload.
  const huge = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`v${i}`, "x".repeat(10_000)]));
  // The SDK and the gateway refuse such a batch up front (413); a producer without that check
  // (an older SDK, another language) can still publish the job, so it is built by hand here.
  const parsed = parseBatchRequest({
    from: "a@acme.test",
    subject: "s",
    text: "t",
    recipients: [{ to: "one@example.com" }, { to: "big@example.com", vars: huge }, { to: "three@example.com" }],
  });
  assert.ok(parsed.ok);
  const os = await new Objm(world.nc).open(OBJECT_STORES.payloads);
  const payload = await storePayload(os, payloadOfBatch(parsed.value));
  const list = await storePayloadBytes(os, Buffer.from(JSON.stringify(parsed.value.recipients)));
  const batchId = newId();
  await world.js.publish(subjects.jobs, encode(buildBatchJob(parsed.value, payload, list.ref, { batchId, tenant: "acme", requestId: batchId, now: Date.now() })));
  const batch = await finalState(batchId);
  assert.equal(batch.state, "failed");
  assert.equal(batch.failed, 1);
  assert.match(String(batch.reason), /message_too_large/);
  assert.equal((await jsm.streams.info(STREAMS.send)).state.messages, before + 2, "the two that fit were published");
  const big = await statusOf(recipientId(batchId, 1), "failed");
  assert.match(JSON.stringify(big.events), /message_too_large/);
  await waitFor("batch counts: 1 failed", async () => {
    const r = await get(`/v1/batches/${batchId}`);
    return (r.json.counts as Record<string, number>).failed === 1 ? true : undefined;
  });
});

test("a job whose payload is missing fails with a reason, and each recipient fails", async () => {
  const os = await new Objm(world.nc).open(OBJECT_STORES.payloads);
  const parsed = parseBatchRequest({ from: "a@acme.test", subject: "gone", text: "t", recipients: [{ to: "r1@example.com" }, { to: "r2@example.com" }] });
  assert.ok(parsed.ok);
  const payload = await storePayload(os, payloadOfBatch(parsed.value));
  const list = await storePayloadBytes(os, Buffer.from(JSON.stringify(parsed.value.recipients)));
  await os.delete(payload.ref); // expired, or never written by a faulty producer
  const batchId = newId();
  await world.js.publish(subjects.jobs, encode(buildBatchJob(parsed.value, payload, list.ref, { batchId, tenant: "acme", requestId: batchId, now: Date.now() })));
  const batch = await finalState(batchId);
  assert.equal(batch.state, "failed");
  assert.equal(batch.failed, 2);
  assert.match(String(batch.reason), /payload_missing/);
  for (const i of [0, 1]) await statusOf(recipientId(batchId, i), "failed");
});

test("a job whose recipient list is missing fails, and the recipients it counts fail", async () => {
  const batchId = newId();
  await world.js.publish(
    subjects.jobs,
    encode({ v: 1, batchId, tenant: "acme", tier: "bulk", mailFrom: "a@acme.test", payload: { ref: `sha256-${"0".repeat(64)}`, size: 1 }, recipients: { ref: `sha256-${"1".repeat(64)}`, count: 2 }, createdAt: Date.now() }),
  );
  const batch = await finalState(batchId);
  assert.equal(batch.state, "failed");
  assert.match(String(batch.reason), /recipients_missing/);
  for (const i of [0, 1]) await statusOf(recipientId(batchId, i), "failed");
});
