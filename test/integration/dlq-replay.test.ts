import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { waitFor } from "../harness/ports.ts";
import { readEvents } from "./delivery-fixtures.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

/**
 * Issue 11: a replayed dead letter is a new attempt series. Its outcome must reach the
 * status, the events, the webhooks and (if it fails again) the DLQ, however often it is replayed.
 */
let p: Pipeline;

before(async () => {
  // Refused twice (a policy 550: a bounce that does not suppress the address), then accepted.
  p = await startPipeline({ domains: { "twice.test": { rcpt: ({ attempt }) => (attempt <= 2 ? { code: 550, text: "5.7.1 Rejected by local policy" } : undefined) } } });
});

after(async () => {
  await p?.close();
});

const api = (method: string, path: string, body?: unknown) => p.api(method, path, body);

const hookTypes = (id: string) => p.hooks.filter((h) => h.event.messageId === id).map((h) => h.event.type);
const count = (types: string[], t: string) => types.filter((x) => x === t).length;

async function statusTypes(id: string, last: string, n: number): Promise<string[]> {
  return waitFor(`status ${last} with ${n} events`, async () => {
    const s = await api("GET", `/v1/messages/${id}`);
    const types = ((s.json.events ?? []) as { type: string }[]).map((e) => e.type);
    return s.status === 200 && s.json.status === last && types.length === n ? types : undefined;
  });
}

test("dead letter → replay → dead letter again → replay → delivered: status, events, DLQ and webhooks follow every step", async () => {
  await p.registerHook(["queued", "bounced", "dead_lettered", "delivered"]);

  const sent = await api("POST", "/v1/messages", { from: "Acme <news@acme.test>", to: "pat@twice.test", subject: "Hello", text: "Hi" });
  assert.equal(sent.status, 202);
  const id = (sent.json.recipients as { id: string }[])[0]?.id as string;

  // 1. First series: bounced and dead-lettered.
  await waitFor("first dead_lettered webhook", () => (count(hookTypes(id), "dead_lettered") === 1 ? true : undefined));
  assert.deepEqual(await statusTypes(id, "bounced", 3), ["accepted", "bounced", "dead_lettered"]);
  const first = await api("GET", `/v1/dlq/${id}`);
  assert.equal(first.status, 200);

  // 2. Replay: tried again, refused again. A new dead letter, new events, new webhooks.
  assert.equal((await api("POST", `/v1/dlq/${id}/replay`)).status, 202);
  await waitFor("second dead_lettered webhook", () => (count(hookTypes(id), "dead_lettered") === 2 ? true : undefined));
  assert.deepEqual(await statusTypes(id, "bounced", 6), ["accepted", "bounced", "dead_lettered", "queued", "bounced", "dead_lettered"]);
  const second = await api("GET", `/v1/dlq/${id}`);
  assert.equal(second.status, 200, "the new dead letter is there, not purged by the replay");
  assert.ok((second.json.at as number) > (first.json.at as number));
  assert.equal((second.json.message as { replay?: number }).replay, 1);
  assert.deepEqual(hookTypes(id), ["bounced", "dead_lettered", "queued", "bounced", "dead_lettered"]);
  assert.equal(p.peer.rejected.filter((r) => r.domain === "twice.test").length, 2);

  // 3. Replay again: delivered, and no dead letter left.
  assert.equal((await api("POST", `/v1/dlq/${id}/replay`)).status, 202);
  await waitFor("delivered at the peer", () => (p.peer.messagesFor("twice.test").length === 1 ? true : undefined));
  await waitFor("delivered webhook", () => (hookTypes(id).includes("delivered") ? true : undefined));
  assert.equal((await statusTypes(id, "delivered", 8)).at(-1), "delivered");
  assert.equal((await api("GET", `/v1/dlq/${id}`)).status, 404);
  assert.deepEqual(hookTypes(id), ["bounced", "dead_lettered", "queued", "bounced", "dead_lettered", "queued", "delivered"]);

  // Every outcome is its own event on the stream: none was dropped as a duplicate.
  const events = (await readEvents(p.world)).filter((e) => e.messageId === id).map((e) => e.type);
  assert.deepEqual(events.sort(), ["accepted", "bounced", "bounced", "dead_lettered", "dead_lettered", "delivered", "queued", "queued"]);
});
