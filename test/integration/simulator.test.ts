import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SIMULATOR_SCENARIOS } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

/**
 * The mailbox simulator through the real gateway, node and services: every address gives its
 * statuses and webhooks, and nothing reaches an SMTP server — not even the catch-all route
 * (`*=peer`, what the local profile sets up) that would take any other domain.
 */
let p: Pipeline;

before(async () => {
  p = await startPipeline({}, { SLUICE_RETRY_SCHEDULE: "1m" });
});

after(async () => {
  await p?.close();
});

const ALL_EVENTS = ["queued", "deferred", "delivered", "bounced", "failed", "suppressed", "dead_lettered", "complained", "auto_replied"];

test("each simulator address produces its statuses and webhooks, without any SMTP", async () => {
  await p.registerHook(ALL_EVENTS);
  const names = Object.keys(SIMULATOR_SCENARIOS);
  const res = await p.api("POST", "/v1/messages", { from: "Acme <news@acme.test>", to: names.map((n) => `${n}@simulator.invalid`), subject: "Hi", text: "Hello" });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  const ids = new Map((res.json.recipients as { to: string; id: string }[]).map((r) => [r.to.split("@")[0] ?? "", r.id]));
  const types = (name: string) => p.hooks.filter((h) => h.event.messageId === ids.get(name)).map((h) => h.event.type);
  const expected: Record<string, string[]> = {
    success: ["delivered"],
    bounce: ["bounced", "dead_lettered"],
    softbounce: ["deferred", "deferred", "delivered"],
    complaint: ["delivered", "complained"],
    ooto: ["delivered", "auto_replied"],
    suppressed: ["suppressed"],
    slow: ["delivered"],
  };
  await waitFor(
    "every simulator webhook",
    () => (names.every((n) => types(n).length >= (expected[n]?.length ?? 0)) ? true : undefined),
    30_000,
    100,
  );
  for (const n of names) assert.deepEqual(types(n), expected[n], n);

  const statusOf = async (name: string) => (await p.api("GET", `/v1/messages/${ids.get(name)}`)).json.status;
  const statuses: Record<string, string> = { success: "delivered", bounce: "bounced", softbounce: "delivered", complaint: "delivered", ooto: "delivered", suppressed: "suppressed", slow: "delivered" };
  for (const [name, status] of Object.entries(statuses)) {
    await waitFor(`${name} status ${status}`, async () => ((await statusOf(name)) === status ? true : undefined), 10_000);
  }
  const bounced = p.hooks.find((h) => h.event.messageId === ids.get("bounce") && h.event.type === "bounced");
  assert.equal(bounced?.event.reply?.code, 550);
  assert.equal(bounced?.event.category, "unknown_user");

  // A hard bounce and a complaint suppress the address, as the real ones do.
  const suppressed = await waitFor("suppressions", async () => {
    const list = ((await p.api("GET", "/v1/suppressions")).json.suppressions ?? []) as { address: string; reason: string }[];
    return list.length >= 2 ? list : undefined;
  });
  assert.deepEqual(suppressed.map((s) => `${s.address} ${s.reason}`).sort(), ["bounce@simulator.invalid hard_bounce", "complaint@simulator.invalid complaint"]);
  assert.equal(p.peer.messages.length, 0, "the SMTP peer behind the catch-all route saw nothing");
});
