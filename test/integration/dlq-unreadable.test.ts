import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startNodeServices, type NodeServices } from "../../actors/services.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import {
  encode,
  KV_BUCKETS,
  newId,
  partitionOf,
  recipientId,
  subjects,
} from "../../protocol/index.ts";
import { createApiKey, listDeadLetters, type DlqDeps } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * Issue 11: a MAIL_SEND message the node cannot read is dead-lettered raw with reason
 * `invalid` (and its status ends), and every DLQ view shows records that fail its schema.
 */
let world: DeliveryWorld;
let node: ActorNode;
let services: NodeServices;
let gateway: Gateway;
let key: string;
let base: string;

before(async () => {
  world = await startWorld({ SLUICE_ROUTES: "*=127.0.0.1:9", SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0" });
  node = await startNode(world.config, world.logger, world.nc);
  services = await startNodeServices(world.nc, world.config, world.logger);
  gateway = await startGateway(world.config, pino({ level: "silent" }), world.nc, { keyCacheMs: 200 });
  base = `http://127.0.0.1:${gateway.port}`;
  key = (await createApiKey(await new Kvm(world.nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["admin"] })).key;
});

after(async () => {
  await gateway?.close();
  await services?.close();
  await node?.close();
  await world?.dispose();
});

async function api(path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const sendSubject = (domain: string) => subjects.send("transactional", partitionOf(domain, world.config.partitions));

test("a MAIL_SEND message that fails the schema, or is not JSON, is dead-lettered raw and its status ends", async () => {
  const badSchema = recipientId(newId(), 0);
  const notJson = recipientId(newId(), 0);
  // A direct producer's bug: an unknown field and a recipient that is not an address.
  const schemaBytes = encode({ v: 1, id: badSchema, requestId: badSchema.split("-")[0], tenant: "acme", tier: "transactional", mailFrom: "a@sender.test", rcptTo: "not an address", payload: { inline: { from: { address: "a@sender.test" }, subject: "s", text: "t" } }, createdAt: Date.now(), colour: "red" });
  await world.js.publish(sendSubject("x.test"), schemaBytes);
  // Cut short in transit: not JSON, but it still names its tenant and id.
  const cut = `{"v":1,"id":"${notJson}","tenant":"acme","tier":"transactional","rcptTo":"bob@x.test","mailFrom":"a@sen`;
  await world.js.publish(sendSubject("y.test"), Buffer.from(cut));
  // Bytes that say nothing about whose they are.
  await world.js.publish(sendSubject("z.test"), Uint8Array.from([0xff, 0xfe, 0x00, 0x01, 0x80]));

  const listed = await waitFor("both in GET /v1/dlq", async () => {
    const res = await api("/v1/dlq");
    const list = res.json.deadLetters as { id: string; reason: { code: string; message: string }; raw: { encoding: string; data: string } }[];
    return list.some((d) => d.id === badSchema) && list.some((d) => d.id === notJson) ? list : undefined;
  });
  const a = listed.find((d) => d.id === badSchema);
  const b = listed.find((d) => d.id === notJson);
  assert.equal(a?.reason.code, "invalid");
  assert.match(a?.reason.message ?? "", /rcptTo|colour|unrecognized/i);
  assert.deepEqual(JSON.parse(a?.raw.data ?? ""), JSON.parse(Buffer.from(schemaBytes).toString()), "kept as received");
  assert.equal(b?.reason.code, "invalid");
  assert.match(b?.reason.message ?? "", /not JSON/);
  assert.equal(b?.raw.data, cut);

  const one = await api(`/v1/dlq/${notJson}`);
  assert.equal(one.status, 200);
  assert.equal((one.json.raw as { data: string }).data, cut);
  const replay = await fetch(`${base}/v1/dlq/${notJson}/replay`, { method: "POST", headers: { authorization: `Bearer ${key}` } });
  assert.equal(replay.status, 400, "nothing readable to replay");
  assert.equal(((await replay.json()) as { error: { code: string } }).error.code, "not_replayable");

  for (const id of [badSchema, notJson]) {
    await waitFor(`status dead_lettered for ${id}`, async () => {
      const s = await api(`/v1/messages/${id}`);
      return s.status === 200 && s.json.status === "dead_lettered" ? true : undefined;
    });
  }

  const deps: DlqDeps = { js: world.js, jsm: await jetstreamManager(world.nc), partitions: world.config.partitions };
  const unknown = await waitFor("the anonymous one under _unknown", async () => {
    const page = await listDeadLetters(deps, "_unknown");
    return page.deadLetters.length > 0 ? page.deadLetters : undefined;
  });
  const view = unknown[0]?.view as { id: string; raw: { encoding: string; data: string } };
  assert.match(view.id, /^seq-\d+$/);
  assert.deepEqual(view.raw, { encoding: "base64", data: Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80]).toString("base64"), bytes: 5 });
  await waitFor("MAIL_SEND empty: nothing left behind", async () => ((await deps.jsm.streams.info("MAIL_SEND")).state.messages === 0 ? true : undefined));
});

test("DLQ views show a record that fails their own schema instead of skipping it", async () => {
  const id = recipientId(newId(), 0);
  await world.js.publish(subjects.dlq("acme", id), encode({ v: 1, id, tenant: "acme", reason: { code: "invalid_message", message: "legacy" }, message: { rcptTo: 42 } }));
  const list = await api("/v1/dlq?limit=1000");
  const shown = (list.json.deadLetters as { id: string; unreadable?: boolean; record?: unknown }[]).find((d) => d.id === id);
  assert.ok(shown, "listed");
  assert.equal(shown.unreadable, true);
  assert.deepEqual((shown.record as { message: unknown }).message, { rcptTo: 42 });
  const one = await api(`/v1/dlq/${id}`);
  assert.equal(one.status, 200);
  assert.equal(one.json.unreadable, true);
});
