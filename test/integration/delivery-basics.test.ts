import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { message, PAYLOAD, publish, readEvents, sendStreamMessages, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}` });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
});

test("a message is delivered with its variables filled, a Message-ID and a delivered event", async () => {
  const m = message("ann@basics.test", { payload: PAYLOAD, vars: { name: "Ann <3" } });
  await publish(world, [m]);
  await peer.waitForMessages(1, 15_000);
  const raw = peer.messages[0]?.raw.toString() ?? "";
  assert.match(raw, /Subject: Hello Ann <3/);
  assert.match(raw, /Hi Ann <3, this is a test\./);
  assert.match(raw, new RegExp(`Message-ID: <${m.id}\\.[0-9a-z]{9,}@sender\\.test>`));
  assert.match(raw, /^Date: /m);
  assert.doesNotMatch(raw, /List-Unsubscribe/);
  const delivered = await waitFor("delivered event", async () => (await readEvents(world)).find((e) => e.type === "delivered" && e.messageId === m.id));
  assert.equal(delivered.reply?.code, 250);
  assert.equal(delivered.mx, "127.0.0.1");
  assert.equal(delivered.attempt, 1);
  await waitFor("ack", async () => ((await sendStreamMessages(world)) === 0 ? true : undefined));
});

test("bulk mail without an unsubscribe address carries no List-Unsubscribe; the node reports its destinations", async () => {
  const m = message("bob@bulk.test", { tier: "bulk" });
  await publish(world, [m]);
  await waitFor("bulk message", () => peer.messages.find((x) => x.rcptTo[0] === "bob@bulk.test"), 15_000);
  const raw = peer.messages.find((x) => x.rcptTo[0] === "bob@bulk.test")?.raw.toString() ?? "";
  // Without SLUICE_LIST_UNSUBSCRIBE or a client header, none (issue 11: no invented mailto).
  assert.doesNotMatch(raw, /List-Unsubscribe/);
  const stats = node.stats();
  assert.equal(stats.partitions.length, 4);
  assert.ok(stats.destinations.some((d) => d.key === "bulk.test" && d.delivered === 1));
});
