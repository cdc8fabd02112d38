import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startNodeServices, type NodeServices } from "../../actors/services.ts";
import { createProducer } from "../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { message, PLAIN, publish, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * Issue 11: what goes on the wire. Every message has a To header; bulk mail never carries
 * a List-Unsubscribe that does not unsubscribe or a List-Unsubscribe-Post without https.
 */
let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
let services: NodeServices;

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}` });
  node = await startNode(world.config, world.logger, world.nc);
  services = await startNodeServices(world.nc, world.config, world.logger);
});

after(async () => {
  await services?.close();
  await node?.close();
  await peer?.close();
  await world?.dispose();
});

const received = (peer: SmtpPeer, rcpt: string) => waitFor(`mail for ${rcpt}`, () => peer.messages.find((m) => m.rcptTo[0] === rcpt));
const headerBlock = (raw: Buffer) => raw.subarray(0, raw.indexOf("\r\n\r\n")).toString("utf8");

test("mail expanded from a batch carries To: the recipient", async () => {
  const producer = await createProducer(world.nc, { tenant: "acme", partitions: world.config.partitions });
  await producer.sendBatch({ from: "News <news@acme.test>", subject: "Batch", text: "t", recipients: [{ to: "ann@batch.test" }, { to: "bob@batch.test" }] });
  for (const rcpt of ["ann@batch.test", "bob@batch.test"]) {
    const head = headerBlock((await received(peer, rcpt)).raw);
    assert.match(head, new RegExp(`^To: ${rcpt.replace(".", "\\.")}\\r?$`, "m"));
    assert.equal(head.match(/^To:/gim)?.length, 1, "exactly one To");
  }
});

test("bulk mail: no invented List-Unsubscribe; a client's mailto is kept, its List-Unsubscribe-Post without https dropped", async () => {
  const bare = message("carl@bulk.test", { tier: "bulk" });
  const withHeader = message("dora@bulk.test", {
    tier: "bulk",
    payload: { ...PLAIN, headers: { "List-Unsubscribe": "<mailto:unsubscribe@acme.test?subject=dora>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" } },
  });
  await publish(world, [bare, withHeader]);
  const bareHead = headerBlock((await received(peer, "carl@bulk.test")).raw);
  assert.doesNotMatch(bareHead, /List-Unsubscribe/i, "the envelope sender is a bounce address, not an unsubscribe handler");
  const head = headerBlock((await received(peer, "dora@bulk.test")).raw);
  assert.match(head, /^List-Unsubscribe: <mailto:unsubscribe@acme\.test\?subject=dora>/m);
  assert.equal(head.match(/^List-Unsubscribe:/gim)?.length, 1);
  assert.doesNotMatch(head, /List-Unsubscribe-Post/i);
});
