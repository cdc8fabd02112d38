import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { tenantPaused } from "../../actors/tenants/settings-watch.ts";
import { encode, KV_BUCKETS, newId, recipientId, STREAMS, subjects, type MailEvent } from "../../protocol/index.ts";
import { getBreaker, resumeTenant, setTenantSettings } from "../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { messages, publish, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

// Issue 16: the reputation breaker, fed with events as the settler and the inbound role write them.
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_TENANT_HEALTH_FLUSH: "200ms" });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
});

async function feed(tenant: string, type: "delivered" | "bounced" | "complained", count: number, extra: Partial<MailEvent> = {}): Promise<void> {
  const requestId = newId();
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const e: MailEvent = { v: 1, id: `${requestId}.${type}.${i}`, type, tenant, messageId: recipientId(requestId, i), at: Date.now(), ...extra };
      return world.js.publish(subjects.event(tenant, type), encode(e), { msgID: e.id });
    }),
  );
}

const rcpts = (prefix: string) => peer.messagesFor("breaker.test").filter((m) => m.rcptTo[0]?.startsWith(prefix)).length;

test("a tenant over the bounce threshold is paused: its bulk is held, its transactional flows, another tenant is unaffected; resume releases", async () => {
  const kvm = new Kvm(world.nc);
  const [tenants, counters] = await Promise.all([kvm.open(KV_BUCKETS.tenants), kvm.open(KV_BUCKETS.tenantCounters)]);
  await setTenantSettings(tenants, "bad-t", { reputation: { minDelivered: 20 } });
  await setTenantSettings(tenants, "good-t", { reputation: { minDelivered: 20 } });
  // bad-t: 20 delivered, 2 bounced at the attempt and 2 asynchronously → 4 / 22 = 18% (pause at 10%).
  await feed("bad-t", "delivered", 20);
  await feed("bad-t", "bounced", 2);
  await feed("bad-t", "bounced", 2, { async: true });
  await feed("good-t", "delivered", 40);
  await feed("good-t", "bounced", 1, { async: true });

  const paused = await waitFor("bad-t paused", async () => {
    const b = await getBreaker(tenants, "bad-t");
    return b?.status === "paused" ? b : undefined;
  }, 10_000);
  assert.match(paused.reason ?? "", /bounce rate 18\.18% of 22 recipients/);
  await waitFor("the node sees the pause", () => (tenantPaused("bad-t") ? true : undefined), 5000);
  assert.notEqual((await getBreaker(tenants, "good-t"))?.status, "paused");

  await publish(world, [
    ...messages(3, (i) => `badbulk${i}@breaker.test`, { tenant: "bad-t", tier: "bulk" }),
    ...messages(2, (i) => `badtx${i}@breaker.test`, { tenant: "bad-t", tier: "transactional" }),
    ...messages(3, (i) => `goodbulk${i}@breaker.test`, { tenant: "good-t", tier: "bulk" }),
  ]);
  await waitFor("transactional of bad-t and bulk of good-t delivered", () => (rcpts("badtx") === 2 && rcpts("goodbulk") === 3 ? true : undefined), 15_000);
  const jsm = await jetstreamManager(world.nc);
  await waitFor("bad-t's bulk held", async () => ((await jsm.streams.info(STREAMS.held)).state.messages === 3 ? true : undefined), 10_000);
  assert.equal(rcpts("badbulk"), 0);

  const { released } = await resumeTenant({ js: world.js, jsm, tenants, counters }, "bad-t");
  assert.equal(released, 3);
  await waitFor("the held bulk delivered after resume", () => (rcpts("badbulk") === 3 ? true : undefined), 15_000);
  assert.equal((await getBreaker(tenants, "bad-t"))?.status, "healthy");
  assert.equal((await jsm.streams.info(STREAMS.held)).state.messages, 0);
});
