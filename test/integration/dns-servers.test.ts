import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { PolicyBook } from "../../actors/policies/index.ts";
import { lookupMx, Router } from "../../actors/routing/index.ts";
import { loadConfig } from "../../protocol/index.ts";
import { dnsResolver } from "../../protocol/io/index.ts";
import { startDnsServer, type DnsServer } from "../harness/dnsmasq.ts";

// SLUICE_DNS_SERVERS points MX routing at given servers: here a real dnsmasq, no mock resolver.

let dns: DnsServer;

before(async () => {
  dns = await startDnsServer();
  dns.mx("routed.test", "mx2.routed.test", 20);
  dns.mx("routed.test", "mx1.routed.test", 10); // one name holds several MX records below
  dns.mx("nullmx.test", ".", 0);
  dns.a("mx1.routed.test", "127.0.0.9");
  await dns.apply();
});

after(async () => {
  await dns?.close();
});

test("MX lookups go to SLUICE_DNS_SERVERS: preference order, null MX and NXDOMAIN classified from real answers", async () => {
  const resolver = dnsResolver(loadConfig({ SLUICE_DNS_SERVERS: dns.address }).domains.dnsServers);
  const router = new Router({ routes: [], book: new PolicyBook({}), dns: resolver });
  const routed = await router.resolve("routed.test");
  assert.ok(routed.ok);
  assert.deepEqual(routed.target.hosts.map((h) => [h.host, h.port]), [["mx1.routed.test", 25], ["mx2.routed.test", 25]]);
  await assert.rejects(lookupMx("nullmx.test", resolver), (e: unknown) => (e as { code?: string }).code === "null_mx");
  await assert.rejects(lookupMx("absent.test", resolver), (e: unknown) => (e as { code?: string; kind?: string }).code === "domain_not_found" && (e as { kind?: string }).kind === "permanent");
});

test("with SLUICE_DNS_SERVERS the MX hosts' addresses come from the same servers (the connection does not ask the system's)", async () => {
  const resolver = dnsResolver([dns.address]);
  const router = new Router({ routes: [], book: new PolicyBook({}), dns: resolver, resolveAddresses: true });
  const routed = await router.resolve("routed.test");
  assert.ok(routed.ok);
  // mx2 has no address here: left to the connection to look up.
  assert.deepEqual(routed.target.hosts.map((h) => [h.host, h.address]), [["mx1.routed.test", "127.0.0.9"], ["mx2.routed.test", undefined]]);
});
