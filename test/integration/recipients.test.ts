import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS } from "../../protocol/index.ts";
import { createApiKey } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

/**
 * Per-recipient results through the real pipeline, on simulator addresses (no SMTP): a
 * 1,000-recipient batch walked page by page, its state `completed`, and the message activity
 * search, tenant-scoped.
 */
let p: Pipeline;
let batchId: string;
const TOTAL = 1000;
const BOUNCES = 40;

before(async () => {
  p = await startPipeline({});
  const recipients = Array.from({ length: TOTAL }, (_, i) => ({ to: i % 25 === 7 ? `bounce+${i}@simulator.invalid` : `success+${i}@simulator.invalid` }));
  const res = await p.api("POST", "/v1/batches", { from: "news@acme.test", subject: "Hi", text: "Hello", tags: ["news"], recipients });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  batchId = res.json.batchId as string;
  await waitFor(
    "the batch completed",
    async () => ((await p.api("GET", `/v1/batches/${batchId}`)).json.state === "completed" ? true : undefined),
    60_000,
    250,
  );
});

after(async () => {
  await p?.close();
});

async function walk(path: string, field: string): Promise<{ id: string; to?: string; status: string }[]> {
  const rows: { id: string; to?: string; status: string }[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const res = await p.api("GET", `${path}${cursor === undefined ? "" : `${sep}cursor=${cursor}`}`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    rows.push(...(res.json[field] as typeof rows));
    cursor = res.json.cursor as string | undefined;
    if (cursor === undefined) return rows;
  }
  throw new Error("more than 100 pages");
}

test("a 1,000-recipient batch is walked page by page, each recipient exactly once, with its address and status", async () => {
  const batch = await p.api("GET", `/v1/batches/${batchId}`);
  assert.equal(batch.json.state, "completed");
  assert.deepEqual(batch.json.counts, { ...(batch.json.counts as object), delivered: TOTAL - BOUNCES, bounced: BOUNCES, queued: 0 });

  const rows = await walk(`/v1/batches/${batchId}/recipients?limit=100`, "recipients");
  assert.equal(rows.length, TOTAL);
  assert.deepEqual(rows.map((r) => r.id), Array.from({ length: TOTAL }, (_, i) => `${batchId}-${i}`), "each once, in order");
  assert.equal(rows[7]?.to, "bounce+7@simulator.invalid");
  assert.equal(rows[7]?.status, "bounced");
  assert.equal(rows[8]?.status, "delivered");

  const bounced = await walk(`/v1/batches/${batchId}/recipients?status=bounced&limit=15`, "recipients");
  assert.equal(bounced.length, BOUNCES);
  assert.ok(bounced.every((r) => r.status === "bounced" && r.to?.startsWith("bounce+")));
  assert.equal((await p.api("GET", `/v1/batches/${batchId}/recipients?status=nope`)).status, 400);
});

test("activity search finds messages by address, tag and status, paginated, and only the caller's", async () => {
  const one = await p.api("GET", `/v1/messages?to=${encodeURIComponent("Success+3@SIMULATOR.invalid")}`);
  assert.equal(one.status, 200, JSON.stringify(one.json));
  assert.deepEqual((one.json.messages as { id: string }[]).map((m) => m.id), [`${batchId}-3`]);

  const bounced = await walk("/v1/messages?status=bounced&tag=news&limit=7", "messages");
  assert.equal(bounced.length, BOUNCES);
  assert.equal(new Set(bounced.map((r) => r.id)).size, BOUNCES);
  assert.equal((await p.api("GET", "/v1/messages?tag=other")).json.messages instanceof Array, true);
  assert.deepEqual((await p.api("GET", "/v1/messages?tag=other")).json.messages, []);
  assert.deepEqual((await p.api("GET", `/v1/messages?since=${Date.now() + 60_000}`)).json.messages, []);

  const globex = (await createApiKey(await new Kvm(p.world.nc).open(KV_BUCKETS.keys), { tenant: "globex", scopes: ["read"] })).key;
  const theirs = await p.api("GET", "/v1/messages?status=bounced", undefined, globex);
  assert.equal(theirs.status, 200);
  assert.deepEqual(theirs.json.messages, [], "another tenant sees none of acme's messages");
  assert.equal((await p.api("GET", `/v1/batches/${batchId}/recipients`, undefined, globex)).status, 404);
});
