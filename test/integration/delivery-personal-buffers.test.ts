import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Objm } from "@nats-io/obj";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { OBJECT_STORES, type Payload } from "../../protocol/index.ts";
import { storePayload } from "../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { messages, publish, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * Issue 17: a personalized message is filled into a buffer that is reused for a later
 * message once the server accepted it (actors/smtp/message-buffers.ts). Many recipients over
 * several pipelined sessions at once: every message a real SMTP server receives must carry its
 * own recipient's values, whole, and nobody else's.
 */
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

const LINE = "Dear {{name}}, line of the weekly digest.\n";
const LINES = 600; // ~25 KB: one buffer per message, several in flight per session

test("reused message buffers: every recipient of a personalized payload gets exactly its own message", async () => {
  const payload: Payload = { from: { address: "news@sender.test" }, subject: "For {{name}}", text: LINE.repeat(LINES) + "{{tail}}" };
  const os = await new Objm(world.nc).open(OBJECT_STORES.payloads);
  const { ref, size } = await storePayload(os, payload);
  const count = 120;
  // Names of different lengths (buffers of different sizes), one with a line end, one non-ASCII (QP).
  const nameOf = (i: number): string => `R${i}${"x".repeat(i % 7)}`;
  const tailOf = (i: number): string => (i === 5 ? "bye\nnow" : i === 6 ? "Grüße" : `end ${i}`);
  const list = messages(count, (i) => `r${i}@d${i % 4}.buffers.test`).map((m, i) => ({ ...m, payload: { ref, size }, vars: { name: nameOf(i), tail: tailOf(i) } }));
  await publish(world, list);
  await peer.waitForMessages(count, 60_000);
  assert.equal(peer.messages.length, count);
  for (const received of peer.messages) {
    const i = Number(/^r(\d+)@/.exec(received.rcptTo[0] ?? "")?.[1]);
    const raw = received.raw.toString("latin1");
    assert.match(raw, new RegExp(`^Subject: For ${nameOf(i)}\r$`, "m"), `subject of r${i}`);
    if (i === 6) {
      assert.match(raw, /Content-Transfer-Encoding: quoted-printable/);
      continue;
    }
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
    const expected = `Dear ${nameOf(i)}, line of the weekly digest.\r\n`.repeat(LINES) + tailOf(i).replace(/\n/g, "\r\n");
    assert.equal(body.replace(/\r\n$/, ""), expected, `body of r${i}`);
  }
});
