import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { message, publish, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
const dir = mkdtempSync(join(tmpdir(), "sluice-dkim-"));

before(async () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "sender.pem"), privateKey.export({ type: "pkcs1", format: "pem" }));
  writeFileSync(join(dir, "keys.json"), JSON.stringify({ "sender.test": { selector: "s1", privateKeyFile: "sender.pem" } }));
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_DKIM_KEYS: join(dir, "keys.json") });
  node = await startNode(world.config, world.logger, world.nc);
});

after(async () => {
  await node?.close();
  await peer?.close();
  await world?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("mail from a domain with a configured key is DKIM-signed; other senders are not", async () => {
  await publish(world, [message("ann@dkim.test"), { ...message("bob@dkim.test"), mailFrom: "someone@other.test" }]);
  await peer.waitForMessages(2, 15_000);
  const raw = (to: string) => peer.messages.find((m) => m.rcptTo[0] === to)?.raw.toString() ?? "";
  assert.match(raw("ann@dkim.test"), /^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]*d=sender\.test;[\s\S]*s=s1;/m);
  assert.doesNotMatch(raw("bob@dkim.test"), /DKIM-Signature/);
});
