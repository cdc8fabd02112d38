import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { promisify } from "node:util";
import { Kvm } from "@nats-io/kv";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { isSluiceError, KV_BUCKETS } from "../../protocol/index.ts";
import { createApiKey, createProducer } from "../../protocol/io/index.ts";
import { startDnsServer, type DnsServer } from "../harness/dnsmasq.ts";
import { freePort, waitFor } from "../harness/ports.ts";
import { readEvents } from "./delivery-fixtures.ts";
import { hardBounceDsn, sendToInbound } from "./support/inbound-mail.ts";
import { startPipeline, type Pipeline } from "./support/pipeline.ts";

// Sender domains end to end against a real DNS server: add → publish the records in dnsmasq
// → verify (domain.verified webhook) → send → an independent DKIM verifier (mailauth,
// resolving through the same dnsmasq) passes the signature → another tenant gets 409/403 →
// the record goes → failed (domain.failed webhook).

const run = promisify(execFile);
let dns: DnsServer;
let p: Pipeline;
let bravoKey: string;
let inboundPort: number;

interface Rec { type: string; name: string; value: string; purpose: string; selector?: string; strings?: string[]; status: string; priority?: number }
interface View { domain: string; status: string; selector: string; records: Rec[]; missing: string[]; reason?: string }

before(async () => {
  dns = await startDnsServer();
  inboundPort = await freePort();
  p = await startPipeline(
    {},
    {
      SLUICE_DNS_SERVERS: dns.address,
      SLUICE_SECRET_KEY: "domains-e2e-secret-key-0123456789",
      SLUICE_REQUIRE_VERIFIED_DOMAINS: "1",
      SLUICE_DOMAIN_RECHECK: "1s",
      SLUICE_SPF_INCLUDE: "_spf.sluice.test",
      SLUICE_INBOUND_MX: "inbound.sluice.test",
      SLUICE_DKIM_ROTATION_GRACE: "1h",
      // The reputation loop, so that a sender domain's own return path (bounces.<domain>) is used and received.
      SLUICE_BOUNCE_DOMAIN: "bounces.sluice.test",
      SLUICE_INBOUND_HOST: "127.0.0.1",
      SLUICE_INBOUND_PORT: String(inboundPort),
    },
  );
  await p.registerHook(["delivered", "domain.verified", "domain.failed"]);
  bravoKey = (await createApiKey(await new Kvm(p.world.nc).open(KV_BUCKETS.keys), { tenant: "bravo", scopes: ["admin"] })).key;
});

after(async () => {
  await p?.close();
  await dns?.close();
});

const publish = async (records: Rec[]): Promise<void> => {
  for (const r of records) {
    if (r.type === "TXT") dns.txt(r.name, r.strings ?? [r.value]);
    else dns.mx(r.name, r.value, r.priority);
  }
  await dns.apply();
};

const send = (from: string, to: string, as?: string) => p.api("POST", "/v1/messages", { from: { address: from }, to: [{ address: to }], subject: "Hello", text: "Signed by the tenant's own key." }, as);

const verifyDkim = async (raw: Buffer) => {
  const r = dns.resolver();
  // DKIM verification needs TXT lookups only.
  const result = await dkimVerify(raw, { resolver: async (name: string) => r.resolveTxt(name) });
  return result.results.map((x) => [x.signingDomain, x.selector, x.status.result]);
};

const domainHook = (type: string, domain: string) =>
  waitFor(`${type} webhook for ${domain}`, () => p.hooks.map((h) => h.event as unknown as { type: string; domain?: string; reason?: string; missing?: string[] }).find((e) => e.type === type && e.domain === domain), 15_000);

const received = (to: string) => waitFor(`mail for ${to} at the peer`, () => p.peer.messages.find((m) => m.rcptTo[0] === to)?.raw, 20_000);

test("a sender domain: records, DNS verification, DKIM signing by the tenant's key, ownership, and failure when the record goes", async () => {
  const added = await p.api("POST", "/v1/domains", { domain: "ACME.test." });
  assert.equal(added.status, 201, JSON.stringify(added.json));
  const view = added.json as unknown as View;
  assert.equal(view.domain, "acme.test");
  assert.equal(view.status, "pending");
  const dkim = view.records.find((r) => r.purpose === "dkim");
  assert.ok(dkim);
  assert.equal(dkim.name, `${view.selector}._domainkey.acme.test`);
  assert.match(dkim.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
  assert.ok((dkim.strings?.length ?? 0) >= 2, "a 2048-bit key's record is more than one 255-byte string");
  assert.deepEqual(
    view.records.filter((r) => r.purpose !== "dkim").map((r) => [r.purpose, r.type, r.name, r.value]),
    [
      ["spf", "TXT", "acme.test", "v=spf1 include:_spf.sluice.test ~all"],
      ["dmarc", "TXT", "_dmarc.acme.test", "v=DMARC1; p=none; rua=mailto:dmarc-reports@acme.test"],
      ["return_path", "MX", "bounces.acme.test", "inbound.sluice.test"],
      ["return_path_spf", "TXT", "bounces.acme.test", "v=spf1 include:_spf.sluice.test ~all"],
    ],
  );
  assert.doesNotMatch(JSON.stringify(added.json), /PRIVATE KEY|sealedKey/);

  // Not published yet: verification finds nothing, and mail from the domain is refused.
  const early = await p.api("POST", "/v1/domains/acme.test/verify");
  assert.equal(early.status, 200);
  assert.equal((early.json as unknown as View).status, "pending");
  assert.ok((early.json as unknown as View).missing.includes(`dkim:${view.selector}`));
  const refused = await send("news@acme.test", "early@dest.test");
  assert.equal(refused.status, 403);
  assert.equal((refused.json.error as { code: string }).code, "domain_not_verified");
  assert.match((refused.json.error as { message: string }).message, /acme\.test/);

  await publish(view.records);
  const verified = await p.api("POST", "/v1/domains/acme.test/verify");
  assert.equal(verified.status, 200, JSON.stringify(verified.json));
  assert.equal((verified.json as unknown as View).status, "verified");
  assert.deepEqual((verified.json as unknown as View).missing, []);
  assert.equal((await domainHook("domain.verified", "acme.test")).type, "domain.verified");

  const accepted = await send("news@acme.test", "ann@dest.test");
  assert.equal(accepted.status, 202, JSON.stringify(accepted.json));
  assert.deepEqual(await verifyDkim(await received("ann@dest.test")), [["acme.test", view.selector, "pass"]]);

  // Another tenant can neither take the domain nor send as it.
  const taken = await p.api("POST", "/v1/domains", { domain: "acme.test" }, bravoKey);
  assert.equal(taken.status, 409);
  assert.equal((taken.json.error as { code: string }).code, "domain_taken");
  const spoof = await send("ceo@acme.test", "victim@dest.test", bravoKey);
  assert.equal(spoof.status, 403);
  assert.equal((spoof.json.error as { code: string }).code, "domain_not_verified");
  const batch = await p.api("POST", "/v1/batches", { from: { address: "ceo@acme.test" }, subject: "Hi {{name}}", text: "x", recipients: [{ to: "v1@dest.test", vars: { name: "V" } }] }, bravoKey);
  assert.equal(batch.status, 403);
  assert.equal((batch.json.error as { code: string }).code, "domain_not_verified");
  // The producer SDK (what `sluice send --direct` uses) applies the same rule.
  const bravoSdk = await createProducer(p.world.nc, { tenant: "bravo", partitions: p.world.config.partitions, requireVerifiedDomains: true });
  await assert.rejects(bravoSdk.send({ from: { address: "ceo@acme.test" }, to: [{ address: "v2@dest.test" }], subject: "Hi", text: "x" }), (e: unknown) => isSluiceError(e) && e.code === "domain_not_verified");
  const acmeSdk = await createProducer(p.world.nc, { tenant: "acme", partitions: p.world.config.partitions, requireVerifiedDomains: true });
  assert.equal((await acmeSdk.send({ from: { address: "news@acme.test" }, to: [{ address: "sdk@dest.test" }], subject: "Hi", text: "x" })).recipients.length, 1);
  assert.deepEqual(await verifyDkim(await received("sdk@dest.test")), [["acme.test", view.selector, "pass"]]);

  // With its bounce MX and SPF published, the domain's mail leaves with its own return path
  // (SPF aligns with the From domain), and a bounce sent there is taken and tied to the message.
  const sdkMail = p.peer.messages.find((m) => m.rcptTo[0] === "sdk@dest.test");
  assert.match(sdkMail?.mailFrom ?? "", /^b-[0-9a-z-]+@bounces\.acme\.test$/);
  await sendToInbound(inboundPort, sdkMail!.mailFrom, hardBounceDsn("sdk@dest.test"));
  await waitFor("the bounce at bounces.acme.test tied to its message", async () => ((await readEvents(p.world)).some((e) => e.type === "bounced" && e.rcptTo === "sdk@dest.test" && e.tenant === "acme") ? true : undefined), 15_000, 100);
  // Mail for a sender domain that has not published its return path keeps the operator's bounce domain,
  // and the inbound server takes no mail for a bounces. domain nobody published.
  await assert.rejects(sendToInbound(inboundPort, sdkMail!.mailFrom.replace("bounces.acme.test", "bounces.unpublished.test"), hardBounceDsn("sdk@dest.test")), /550|No such recipient/i);

  // The DKIM record disappears: the periodic re-check (1 s here) marks the domain failed, and its mail is refused again.
  dns.remove(dkim.name);
  await dns.apply();
  const failed = await waitFor("the re-check to mark acme.test failed", async () => {
    const got = await p.api("GET", "/v1/domains/acme.test");
    return (got.json as unknown as View).status === "failed" ? (got.json as unknown as View) : undefined;
  }, 15_000, 200);
  assert.match(failed.reason ?? "", /no TXT record/);
  const failedHook = await domainHook("domain.failed", "acme.test");
  assert.match(failedHook.reason ?? "", /no TXT record/);
  assert.deepEqual(failedHook.missing, [`dkim:${view.selector}`]);
  assert.equal(p.hooks.filter((h) => (h.event as unknown as { type: string }).type === "domain.failed").length, 1, "one event per transition");
  assert.deepEqual(failed.missing, [`dkim:${view.selector}`]);
  await waitFor("mail from the failed domain refused", async () => ((await send("news@acme.test", `late-${Date.now()}@dest.test`)).status === 403 ? true : undefined), 15_000, 500);
  const list = await p.api("GET", "/v1/domains");
  assert.deepEqual((list.json.domains as View[]).map((d) => [d.domain, d.status]), [["acme.test", "failed"]]);
});

test("rotation: the new selector signs once DNS shows it, the old one stays published until its grace ends; removing frees the domain", async () => {
  const added = await p.api("POST", "/v1/domains", { domain: "rotate.test" });
  assert.equal(added.status, 201);
  const first = added.json as unknown as View;
  await publish(first.records);
  assert.equal(((await p.api("POST", "/v1/domains/rotate.test/verify")).json as unknown as View).status, "verified");

  const rotated = (await p.api("POST", "/v1/domains/rotate.test/rotate-dkim")).json as unknown as View;
  const dkims = rotated.records.filter((r) => r.purpose === "dkim");
  assert.equal(dkims.length, 2);
  assert.equal(rotated.selector, first.selector, "the old key signs until the new record is published");
  const next = dkims.find((r) => r.selector !== first.selector);
  assert.ok(next);
  await publish([next]);
  const after = (await p.api("POST", "/v1/domains/rotate.test/verify")).json as unknown as View;
  assert.equal(after.status, "verified");
  assert.equal(after.selector, next.selector);
  assert.equal(after.records.filter((r) => r.purpose === "dkim").length, 2, "the retiring selector is still listed during its grace period");

  assert.equal((await send("news@rotate.test", "rot@dest.test")).status, 202);
  assert.deepEqual(await verifyDkim(await received("rot@dest.test")), [["rotate.test", next.selector, "pass"]]);

  const removed = await p.api("DELETE", "/v1/domains/rotate.test");
  assert.equal(removed.status, 204);
  assert.equal((await p.api("GET", "/v1/domains/rotate.test")).status, 404);
  assert.equal((await send("news@rotate.test", "gone@dest.test")).status, 403);
  // Freed: another tenant may add it now.
  assert.equal((await p.api("POST", "/v1/domains", { domain: "rotate.test" }, bravoKey)).status, 201);
});

test("a tenant's own key, another tenant's view, bad input and scopes", async () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const own = await p.api("POST", "/v1/domains", { domain: "own-key.test", dkim: { selector: "k1", privateKey: pem } });
  assert.equal(own.status, 201, JSON.stringify(own.json));
  const dkim = (own.json as unknown as View).records.find((r) => r.purpose === "dkim");
  assert.equal(dkim?.name, "k1._domainkey.own-key.test");
  assert.equal(dkim?.value, `v=DKIM1; k=rsa; p=${publicKey.export({ type: "spki", format: "der" }).toString("base64")}`);
  assert.doesNotMatch(JSON.stringify(own.json), /PRIVATE KEY/);
  assert.equal((await p.api("POST", "/v1/domains", { domain: "own-key.test" })).status, 409); // domain_exists
  // Another tenant's domain is not there for bravo; its list is its own.
  assert.equal((await p.api("GET", "/v1/domains/own-key.test", undefined, bravoKey)).status, 404);
  assert.ok(!((await p.api("GET", "/v1/domains", undefined, bravoKey)).json.domains as View[]).some((d) => d.domain === "own-key.test"));
  const bad = await p.api("POST", "/v1/domains", { domain: "not a domain" });
  assert.equal(bad.status, 400);
  assert.equal((bad.json.error as { field: string }).field, "domain");
  assert.equal((await p.api("POST", "/v1/domains", { domain: "ec.test", dkim: { privateKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString() } })).status, 400);
  const reader = (await createApiKey(await new Kvm(p.world.nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["send", "read"] })).key;
  assert.equal((await p.api("GET", "/v1/domains/own-key.test", undefined, reader)).status, 200);
  assert.equal((await p.api("POST", "/v1/domains", { domain: "x.test" }, reader)).status, 403);
  assert.equal((await p.api("DELETE", "/v1/domains/own-key.test", undefined, reader)).status, 403);
});

test("sluice domains: add prints the records, verify through SLUICE_DNS_SERVERS, list shows state and what is missing", async () => {
  const env = { ...process.env, NATS_URL: p.world.nats.url, SLUICE_DNS_SERVERS: dns.address, SLUICE_SECRET_KEY: "domains-e2e-secret-key-0123456789", SLUICE_INBOUND_MX: "inbound.sluice.test", SLUICE_LOG_LEVEL: "silent" };
  const cli = async (...args: string[]): Promise<string> => (await run(process.execPath, ["bin/sluice.js", "domains", ...args], { env, timeout: 30_000 })).stdout;
  const added = JSON.parse(await cli("add", "cli.test", "--tenant", "acme", "--json")) as View;
  assert.equal(added.status, "pending");
  const dkim = added.records.find((r) => r.purpose === "dkim");
  assert.ok(dkim);
  dns.txt(dkim.name, dkim.strings ?? [dkim.value]);
  await dns.apply();
  const verified = await cli("verify", "cli.test", "--tenant", "acme");
  assert.match(verified, /^cli\.test: verified; DKIM selector s\d{8}-[0-9a-f]{4}/);
  assert.match(verified, new RegExp(`\\[ok\\] dkim \\(required\\)\\n    ${dkim.name.replace(/\./g, "\\.")}\\. IN TXT "v=DKIM1; k=rsa; p=[^"]+" "[^"]+"`));
  assert.match(verified, /\[missing\] spf: no TXT record at cli\.test/);
  // A status the CLI wrote is told like any other (the node watches the store, not the API).
  assert.deepEqual((await domainHook("domain.verified", "cli.test")).missing, ["spf", "dmarc", "return_path", "return_path_spf"]);
  const list = await cli("list", "--tenant", "acme");
  assert.match(list, /^cli\.test\s+acme\s+verified\s+s\d{8}-[0-9a-f]{4}\s+spf,dmarc,return_path,return_path_spf$/m);
  // `rm` shares removeDomain with DELETE /v1/domains (tested above); one spawn less on a 2-core machine.
  assert.equal((await p.api("DELETE", "/v1/domains/cli.test")).status, 204);
});
