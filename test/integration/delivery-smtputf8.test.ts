import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { message, publish, readDeadLetters, readEvents, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

/**
 * Issue 11: internationalised addresses. Domains go out as A-labels (punycode); a non-ASCII
 * local part goes only with SMTPUTF8 (RFC 6531), else it bounces at once.
 */
let world: DeliveryWorld;
let utf8Peer: SmtpPeer;
let asciiPeer: SmtpPeer;
let node: ActorNode;

before(async () => {
  utf8Peer = await startSmtpPeer();
  asciiPeer = await startSmtpPeer({ hideSMTPUTF8: true });
  world = await startWorld({ SLUICE_ROUTES: `ascii.test=127.0.0.1:${asciiPeer.port},*=127.0.0.1:${utf8Peer.port}` });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await utf8Peer?.close();
  await asciiPeer?.close();
  await world?.dispose();
});

const received = (peer: SmtpPeer, rcpt: string) => waitFor(`mail for ${rcpt}`, () => peer.messages.find((m) => m.rcptTo[0] === rcpt));
const headerBlock = (raw: Buffer) => raw.subarray(0, raw.indexOf("\r\n\r\n")).toString("utf8");

test("an IDN domain goes out as an A-label; a UTF-8 local part goes with SMTPUTF8 where it is offered", async () => {
  const idn = message("bob@例子.广告");
  const utf8Local = message("用户@例子.广告");
  const jose = message("josé@example.com");
  await publish(world, [idn, utf8Local, jose]);
  // smtp-server shows A-labels decoded in its envelope; the commands show what was sent.
  const a = await received(utf8Peer, "bob@例子.广告");
  assert.equal(a.smtpUtf8, false, "an ASCII local part needs no SMTPUTF8");
  assert.ok(utf8Peer.envelopeCommands.includes("RCPT TO:<bob@xn--fsqu00a.xn--4rr70v>"), utf8Peer.envelopeCommands.join("\n"));
  const b = await received(utf8Peer, "用户@例子.广告");
  assert.equal(b.smtpUtf8, true);
  assert.ok(utf8Peer.envelopeCommands.includes("RCPT TO:<用户@xn--fsqu00a.xn--4rr70v>"), utf8Peer.envelopeCommands.join("\n"));
  assert.match(headerBlock(b.raw), /^To: 用户@xn--fsqu00a\.xn--4rr70v\r?$/m);
  const c = await received(utf8Peer, "josé@example.com");
  assert.equal(c.smtpUtf8, true);
});

test("a UTF-8 local part to a server without SMTPUTF8 bounces at once with smtputf8_unsupported, never sent raw", async () => {
  const m = message("josé@ascii.test");
  const ok = message("plain@ascii.test");
  await publish(world, [m, ok]);
  await received(asciiPeer, "plain@ascii.test");
  const bounced = await waitFor("bounced event", async () => (await readEvents(world)).find((e) => e.messageId === m.id && e.type === "bounced"));
  assert.equal(bounced.category, "smtputf8_unsupported");
  assert.equal(bounced.attempt, 1);
  const dl = await waitFor("dead letter", async () => (await readDeadLetters(world)).find((d) => d.id === m.id));
  assert.equal(dl.reason.category, "smtputf8_unsupported");
  assert.match(dl.reason.message, /SMTPUTF8/);
  assert.equal(asciiPeer.messages.filter((x) => x.rcptTo[0]?.startsWith("jos")).length, 0);
  assert.ok(!asciiPeer.envelopeCommands.some((c) => c.includes("jos")), "the address never reached the server");
  assert.ok(!(await readEvents(world)).some((e) => e.messageId === m.id && e.type === "deferred"), "no retry");
});
