import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { encode, KV_BUCKETS, newId, recipientId, subjects, verifyWebhook, type MailEvent } from "../../protocol/index.ts";
import { getBreaker, resumeTenant, setTenantSettings } from "../../protocol/io/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

// Issue 16: the breaker tells the tenant — tenant.paused when it pauses, tenant.resumed when an
// operator resumes — as signed webhooks to a real HTTP receiver.
let p: Pipeline;

before(async () => {
  p = await startPipeline({}, { SLUICE_TENANT_HEALTH_FLUSH: "200ms" });
});

after(async () => {
  await p?.close();
});

async function feed(type: "delivered" | "bounced", count: number): Promise<void> {
  const requestId = newId();
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const e: MailEvent = { v: 1, id: `${requestId}.${type}.${i}`, type, tenant: "acme", messageId: recipientId(requestId, i), at: Date.now() };
      return p.world.js.publish(subjects.event("acme", type), encode(e), { msgID: e.id });
    }),
  );
}

type TenantHook = { id: string; type: string; tenant: string; at: number; reason?: string; bounceRate?: number };
const hookOf = (type: string) => waitFor(`${type} webhook`, () => p.hooks.find((h) => (h.event as unknown as TenantHook).type === type), 15_000);

test("the breaker pausing a tenant sends a signed tenant.paused webhook, and resume a tenant.resumed", async () => {
  const kvm = new Kvm(p.world.nc);
  const [tenants, counters] = await Promise.all([kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.tenantCounters)]);
  const { secret } = await p.registerHook(["delivered", "tenant.paused", "tenant.resumed"]);
  await setTenantSettings(tenants, "acme", { reputation: { minDelivered: 20 } });
  await feed("delivered", 20);
  await feed("bounced", 5);

  const paused = await hookOf("tenant.paused");
  assert.equal(verifyWebhook(secret, paused.body, paused.signature).ok, true, "signed with the endpoint's secret");
  const event = paused.event as unknown as TenantHook;
  const state = await getBreaker(tenants, "acme");
  assert.equal(state?.status, "paused");
  // Deterministic: every node that sees the pause names it alike (MAIL_WEBHOOKS stores it once).
  assert.equal(event.id, `acme.tenant.paused.${state?.since}`);
  assert.equal(event.tenant, "acme");
  assert.match(event.reason ?? "", /bounce rate/);
  assert.ok((event.bounceRate ?? 0) >= 0.1);

  await resumeTenant({ js: p.world.js, jsm: await jetstreamManager(p.world.nc), tenants, counters }, "acme");
  const resumed = await hookOf("tenant.resumed");
  assert.equal(verifyWebhook(secret, resumed.body, resumed.signature).ok, true);
  assert.equal((resumed.event as unknown as TenantHook).reason, "resumed by an operator");
  assert.equal(p.hooks.filter((h) => (h.event as unknown as TenantHook).type === "tenant.paused").length, 1, "one pause, told once");
});
