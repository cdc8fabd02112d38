import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { message, publish, startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
const dir = mkdtempSync(join(tmpdir(), "sluice-dkim-"));
// The public halves, as the TXT records mailauth would find in DNS.
const txt = new Map<string, string>();

function keyPair(file: string, record: string): void {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, file), privateKey.export({ type: "pkcs1", format: "pem" }));
  txt.set(record, `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`);
}

before(async () => {
  keyPair("sender.pem", "s1._domainkey.sender.test");
  keyPair("acme.pem", "a1._domainkey.acme.test");
  writeFileSync(
    join(dir, "keys.json"),
    JSON.stringify({
      acme: { "sender.test": { selector: "s1", privateKeyFile: "sender.pem" }, "ACME.test.": { selector: "a1", privateKeyFile: "acme.pem" } },
    }),
  );
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

const verify = (raw: Buffer) =>
  dkimVerify(raw, {
    resolver: async (name: string, rrtype: string) => {
      const record = rrtype === "TXT" ? txt.get(name) : undefined;
      if (record === undefined) throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: "ENOTFOUND" });
      return [[record]];
    },
  });

test("mail from a domain with a configured key is DKIM-signed; other senders are not", async () => {
  await publish(world, [message("ann@dkim.test"), { ...message("bob@dkim.test"), mailFrom: "someone@other.test" }]);
  await peer.waitForMessages(2, 15_000);
  const raw = (to: string) => peer.messages.find((m) => m.rcptTo[0] === to)?.raw.toString() ?? "";
  assert.match(raw("ann@dkim.test"), /^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]*d=sender\.test;[\s\S]*s=s1;/m);
  assert.doesNotMatch(raw("bob@dkim.test"), /DKIM-Signature/);
});

test("a tenant's key signs only that tenant's mail: another tenant sending from the same domain goes out unsigned", async () => {
  const payload = { from: { address: "news@acme.test" }, subject: "Hello", text: "Same domain, two tenants." };
  const fromA = { ...message("a@tenants.test", { tenant: "acme", payload }), mailFrom: "news@acme.test" };
  const fromB = { ...message("b@tenants.test", { tenant: "bravo", payload }), mailFrom: "news@acme.test" };
  await publish(world, [fromA, fromB]);
  await peer.waitForMessages(4, 15_000);
  const received = (to: string) => {
    const m = peer.messages.find((x) => x.rcptTo[0] === to);
    assert.ok(m, `nothing received for ${to}`);
    return m.raw;
  };

  const a = await verify(received("a@tenants.test"));
  assert.deepEqual(
    a.results.map((r) => [r.signingDomain, r.selector, r.status.result]),
    [["acme.test", "a1", "pass"]],
  );
  const b = await verify(received("b@tenants.test"));
  assert.equal(b.results.filter((r) => r.signingDomain === "acme.test").length, 0, JSON.stringify(b.results));
  assert.doesNotMatch(received("b@tenants.test").toString(), /^DKIM-Signature:/m);
});
