import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS, verifyWebhook } from "../../protocol/index.ts";
import { createApiKey } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

/**
 * The failure paths end to end, through the real gateway, node and node services:
 * 550 5.1.1 → bounced, suppressed, in the DLQ, a signed webhook, status `bounced`;
 * then the operator lifts the suppression and replays the dead letter, and it is delivered.
 */
let p: Pipeline;

before(async () => {
  p = await startPipeline(
    {
      domains: {
        "unknown.test": { rcpt: () => ({ code: 550, text: "5.1.1 The email account that you tried to reach does not exist" }) },
        // Unknown at first, then the mailbox is created: the replay is delivered.
        "later.test": { rcpt: ({ attempt }) => (attempt === 1 ? { code: 550, text: "5.1.1 User Unknown" } : undefined) },
      },
    },
    { SLUICE_RETRY_SCHEDULE: "1s", SLUICE_MAX_AGE: "5s" },
  );
});

after(async () => {
  await p?.close();
});

const api = (method: string, path: string, body?: unknown, as?: string) => p.api(method, path, body, as);

async function send(to: string): Promise<string> {
  const res = await api("POST", "/v1/messages", { from: "Acme <news@acme.test>", to, subject: "Hello", text: "Hi" });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  const id = (res.json.recipients as { id: string }[])[0]?.id;
  assert.ok(id);
  return id;
}

const webhookEvents = (id: string) => p.hooks.filter((r) => r.event.messageId === id);

test("550 5.1.1: bounced, suppressed, in the DLQ, a signed webhook, and status bounced", async () => {
  const { secret } = await p.registerHook(["bounced", "dead_lettered", "delivered", "queued"]);

  const id = await send("Ghost@unknown.test");
  await waitFor("bounced and dead_lettered webhooks", () => {
    const types = webhookEvents(id).map((r) => r.event.type);
    return types.includes("bounced") && types.includes("dead_lettered") ? true : undefined;
  }, 20_000);
  for (const r of webhookEvents(id)) assert.equal(verifyWebhook(secret, r.body, r.signature).ok, true, "signature verifies");
  const first = webhookEvents(id)[0];
  assert.ok(first);
  assert.equal(verifyWebhook(secret, first.body.replace('"bounced"', '"delivered"'), first.signature).ok, false, "a tampered body fails");
  assert.deepEqual(webhookEvents(id).map((r) => r.event.type), ["bounced", "dead_lettered"], "in order");
  assert.equal(webhookEvents(id)[0]?.event.reply?.code, 550);

  const status = await waitFor("status bounced", async () => {
    const s = await api("GET", `/v1/messages/${id}`);
    return s.status === 200 && s.json.status === "bounced" ? s.json : undefined;
  });
  assert.deepEqual((status.events as { type: string }[]).map((e) => e.type), ["accepted", "bounced", "dead_lettered"]);
  const suppression = await api("GET", "/v1/suppressions/ghost@unknown.test");
  assert.equal(suppression.status, 200);
  assert.equal(suppression.json.reason, "hard_bounce");
  const dlq = await api("GET", "/v1/dlq");
  const dead = (dlq.json.deadLetters as { id: string; reason: { code: string }; attempts: { code?: number }[] }[]).find((d) => d.id === id);
  assert.ok(dead, "in the DLQ");
  assert.equal(dead.reason.code, "bounce");
  assert.deepEqual(dead.attempts.map((a) => a.code), [550]);

  // Another tenant sees none of it.
  const other = (await createApiKey(await new Kvm(p.world.nc).open(KV_BUCKETS.keys), { tenant: "globex", scopes: ["admin"] })).key;
  assert.equal((await api("GET", `/v1/dlq/${id}`, undefined, other)).status, 404);
  assert.equal((await api("GET", `/v1/messages/${id}`, undefined, other)).status, 404);
  assert.equal((await api("GET", "/v1/suppressions/ghost@unknown.test", undefined, other)).status, 404);
});

test("replay from the DLQ delivers once the address is fixed", async () => {
  const id = await send("carol@later.test");
  await waitFor("dead letter", async () => ((await api("GET", `/v1/dlq/${id}`)).status === 200 ? true : undefined), 20_000);
  // The hard bounce suppressed the address: lift it first, or the replay is suppressed again.
  assert.equal((await api("DELETE", "/v1/suppressions/carol@later.test")).status, 204);
  const replay = await api("POST", `/v1/dlq/${id}/replay`);
  assert.equal(replay.status, 202);

  await waitFor("delivered at the peer", () => (p.peer.messagesFor("later.test").length === 1 ? true : undefined), 20_000);
  await waitFor("delivered webhook", () => (webhookEvents(id).some((r) => r.event.type === "delivered") ? true : undefined), 20_000);
  const status = await waitFor("status delivered", async () => {
    const s = await api("GET", `/v1/messages/${id}`);
    return s.status === 200 && s.json.status === "delivered" ? s.json : undefined;
  });
  assert.ok((status.events as { type: string }[]).some((e) => e.type === "queued"), "the replay is in the history");
  assert.equal((await api("GET", `/v1/dlq/${id}`)).status, 404, "no longer a dead letter");
});
