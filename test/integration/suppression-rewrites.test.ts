import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { KV_BUCKETS } from "../../protocol/index.ts";
import { addSuppression } from "../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { message, publish, readEvents, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}` });
  // Suppressed before the node starts: its cache loads the list whole at start, whereas one
  // added while it runs arrives by a KV watch a moment later (a busy machine showed the race).
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.suppressions);
  await addSuppression(kv, "acme", { address: "s-a@example.com", reason: "manual", at: Date.now() });
  await addSuppression(kv, "acme", { address: "ann@bücher.de", reason: "complaint", at: Date.now() });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
});

test("a suppressed address is not delivered under a rewritten spelling (trailing dot, fullwidth, punycode, case)", async () => {
  const rewritten = ["s-a@example.com.", "s-a@ｅｘａｍｐｌｅ.com", "S-A@Example.COM", "ann@xn--bcher-kva.de", "ann@BÜCHER.de."].map((a) => message(a));
  const control = message("ok@example.com");
  await publish(world, [...rewritten, control]);
  const events = await waitFor(
    "a suppressed event for every rewritten address and the control delivered",
    async () => {
      const all = await readEvents(world);
      const done = rewritten.every((m) => all.some((e) => e.messageId === m.id && e.type === "suppressed")) && all.some((e) => e.messageId === control.id && e.type === "delivered");
      return done ? all : undefined;
    },
    20_000,
  );
  for (const m of rewritten) assert.equal(events.find((e) => e.messageId === m.id && e.type === "delivered"), undefined, m.rcptTo);
  assert.deepEqual(peer.messages.map((m) => m.rcptTo[0]), ["ok@example.com"]);
  // Another tenant's mail to the same address is not touched by this tenant's list.
  const elsewhere = message("s-a@example.com", { tenant: "other" });
  await publish(world, [elsewhere]);
  await peer.waitForMessages(2, 15_000);
  assert.deepEqual(peer.messages.map((m) => m.rcptTo[0]).sort(), ["ok@example.com", "s-a@example.com"]);
});
