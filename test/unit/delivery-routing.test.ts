import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyBook, parsePolicyText } from "../../actors/policies/index.ts";
import { lookupMx, type DnsLike } from "../../actors/routing/mx.ts";
import { Router } from "../../actors/routing/router.ts";
import { parseRoutes, type Route } from "../../protocol/index.ts";

const err = (code: string) => Object.assign(new Error(code), { code });

function fakeDns(zone: Record<string, { mx?: { exchange: string; priority: number }[] | string; a?: string[] | string; aaaa?: string[] | string }>): DnsLike & { mxLookups: number } {
  const answer = <T>(v: T | string | undefined): T => {
    if (v === undefined) throw err("ENODATA");
    if (typeof v === "string") throw err(v);
    return v;
  };
  const dns = {
    mxLookups: 0,
    resolveMx: async (d: string) => {
      dns.mxLookups++;
      if (!(d in zone)) throw err("ENOTFOUND");
      return answer(zone[d]?.mx);
    },
    resolve4: async (d: string) => answer(zone[d]?.a)?.map((address) => ({ address, ttl: 60 })) ?? [],
    resolve6: async (d: string) => answer(zone[d]?.aaaa)?.map((address) => ({ address, ttl: 60 })) ?? [],
  };
  return dns;
}

const zone = fakeDns({
  "multi.test": { mx: [{ exchange: "mx2.multi.test", priority: 20 }, { exchange: "MX1.multi.test.", priority: 10 }] },
  "nullmx.test": { mx: [{ exchange: "", priority: 0 }] },
  "implicit.test": { a: ["192.0.2.1"] },
  "nothing.test": {},
  "broken.test": { mx: "ESERVFAIL" },
  "workspace.test": { mx: [{ exchange: "aspmx.l.google.com", priority: 1 }, { exchange: "alt1.aspmx.l.google.com", priority: 5 }] },
  "m365.test": { mx: [{ exchange: "m365-test.mail.protection.outlook.com", priority: 0 }] },
});

test("MX hosts come by preference, lower-cased, without the trailing dot", async () => {
  assert.deepEqual(await lookupMx("multi.test", zone), ["mx1.multi.test", "mx2.multi.test"]);
});

test("no MX falls back to the domain's own address record", async () => {
  assert.deepEqual(await lookupMx("implicit.test", zone), ["implicit.test"]);
});

test("null MX, NXDOMAIN and no records at all are permanent; SERVFAIL is temporary", async () => {
  await assert.rejects(lookupMx("nullmx.test", zone), (e: { kind: string; code: string }) => e.kind === "permanent" && e.code === "null_mx");
  await assert.rejects(lookupMx("missing.test", zone), (e: { kind: string; code: string }) => e.kind === "permanent" && e.code === "domain_not_found");
  await assert.rejects(lookupMx("nothing.test", zone), (e: { kind: string }) => e.kind === "permanent");
  await assert.rejects(lookupMx("broken.test", zone), (e: { kind: string }) => e.kind === "temporary");
});

test("domains whose MX is one provider share one budget, unless an operator named the domain", async () => {
  const book = new PolicyBook({ domains: { "m365.test": { messagesPerSecond: 3 } } });
  const router = new Router({ routes: [], book, dns: zone });
  const ws = await router.resolve("workspace.test");
  assert.ok(ws.ok && ws.target.key === "mx:google");
  assert.deepEqual(ws.ok && ws.target.hosts.map((h) => `${h.host}:${h.port}`), ["aspmx.l.google.com:25", "alt1.aspmx.l.google.com:25"]);
  const m365 = await router.resolve("m365.test");
  assert.ok(m365.ok && m365.target.key === "m365.test");
  const plain = await router.resolve("multi.test");
  assert.ok(plain.ok && plain.target.key === "multi.test");
  const off = new Router({ routes: [], book: new PolicyBook({ groupByMx: false }), dns: zone });
  const r = await off.resolve("workspace.test");
  assert.ok(r.ok && r.target.key === "workspace.test");
});

test("routes override MX lookup, and answers are cached until their TTL", async () => {
  const parsed = parseRoutes("multi.test=127.0.0.1:2525,*=smtp://u:p@relay.test:587");
  const routes = "routes" in parsed ? parsed.routes : ([] as Route[]);
  let now = 0;
  const dns = fakeDns({ "a.test": { mx: [{ exchange: "mx.a.test", priority: 1 }] } });
  const viaRoutes = new Router({ routes, book: new PolicyBook(), dns, now: () => now });
  const r1 = await viaRoutes.resolve("multi.test");
  assert.ok(r1.ok && r1.target.hosts[0]?.port === 2525 && r1.target.key === "multi.test");
  const r2 = await viaRoutes.resolve("else.test");
  assert.ok(r2.ok && r2.target.hosts[0]?.host === "relay.test" && r2.target.hosts[0]?.auth?.user === "u");
  assert.equal(dns.mxLookups, 0);
  const viaDns = new Router({ routes: [], book: new PolicyBook(), dns, now: () => now, positiveTtlMs: 1000 });
  await Promise.all([viaDns.resolve("a.test"), viaDns.resolve("a.test")]);
  assert.equal(dns.mxLookups, 1, "concurrent lookups share one query");
  now = 999;
  await viaDns.resolve("a.test");
  assert.equal(dns.mxLookups, 1);
  now = 1001;
  await viaDns.resolve("a.test");
  assert.equal(dns.mxLookups, 2);
});

test("policies layer: defaults < built-in provider < file < KV, applied live", () => {
  const book = parsePolicyText('{"defaults":{"messagesPerSecond":7},"domains":{"example.com":{"maxConnections":5,"messagesPerSecond":50}}}', "json");
  const b = new PolicyBook(book);
  assert.equal(b.resolve("unknown.test").policy.messagesPerSecond, 7);
  assert.equal(b.resolve("unknown.test").source, "default");
  assert.equal(b.resolve("gmail.com").policy.messagesPerSecond, 50);
  assert.equal(b.resolve("gmail.com").source, "builtin");
  assert.equal(b.resolve("mx:microsoft").policy.maxConnections, 5);
  const ex = b.resolve("example.com");
  assert.equal(ex.policy.maxConnections, 5);
  assert.equal(ex.source, "file");
  let changes = 0;
  b.onChange(() => changes++);
  b.setKv("example.com", { messagesPerSecond: 2 });
  assert.equal(b.resolve("example.com").policy.messagesPerSecond, 2);
  assert.equal(b.resolve("example.com").policy.maxConnections, 5);
  assert.equal(b.resolve("example.com").source, "kv");
  b.setKv("example.com", undefined);
  assert.equal(b.resolve("example.com").policy.messagesPerSecond, 50);
  assert.equal(changes, 2);
  assert.ok(b.table().some((row) => row.key === "*" && row.policy.messagesPerSecond === 7));
});

test("policy files: YAML works, and a bad field is named", () => {
  const y = parsePolicyText("domains:\n  example.org:\n    burst: 3\n", "yaml");
  assert.equal(y.domains?.["example.org"]?.burst, 3);
  assert.throws(() => parsePolicyText('{"domains":{"x.test":{"maxConnections":0}}}', "json"), /domains\.x\.test\.maxConnections/);
  assert.throws(() => parsePolicyText('{"domains":{"x.test":{"speed":1}}}', "json"), /policies/);
});
