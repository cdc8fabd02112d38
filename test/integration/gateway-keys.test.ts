import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";
import { waitFor } from "../harness/ports.ts";

const run = promisify(execFile);
let fx: GatewayFixture;

before(async () => {
  fx = await startGatewayFixture();
});
after(async () => {
  await fx?.close();
});

const sluice = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await run(process.execPath, ["bin/sluice.js", "keys", ...args], { env: { ...process.env, NATS_URL: fx.server.url } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

test("sluice keys create prints the key alone on the last line; it works, list shows it, revoke stops it", async () => {
  const created = await sluice("create", "--tenant", "cli-tenant", "--scopes", "send,read");
  assert.equal(created.code, 0, created.stderr);
  const lines = created.stdout.trimEnd().split("\n");
  const key = lines.at(-1) ?? "";
  assert.match(key, /^sk_[A-Za-z0-9_-]{32}$/);
  const keyId = /API key ([0-9a-f]{12})/.exec(created.stdout)?.[1];
  assert.ok(keyId);

  assert.equal((await fx.post("/v1/messages", simpleMessage(), key)).status, 202);

  const list = await sluice("list", "--tenant", "cli-tenant");
  assert.equal(list.code, 0);
  assert.match(list.stdout, new RegExp(`${keyId}\\s+cli-tenant\\s+send,read.*active`));
  assert.ok(!list.stdout.includes(key), "list never prints keys");

  const revoked = await sluice("revoke", keyId);
  assert.equal(revoked.code, 0, revoked.stderr);
  await waitFor("revocation", async () => ((await fx.post("/v1/messages", simpleMessage(), key)).status === 401 ? true : undefined), 5000, 100);
  assert.match((await sluice("list")).stdout, new RegExp(`${keyId}.*revoked`));
});

test("sluice keys refuses bad input with exit code 2 and a message", async () => {
  const badTenant = await sluice("create", "--tenant", "Not A Tenant");
  assert.equal(badTenant.code, 2);
  assert.match(badTenant.stderr, /not a tenant name/);
  const badScope = await sluice("create", "--tenant", "x", "--scopes", "send,write");
  assert.equal(badScope.code, 2);
  assert.match(badScope.stderr, /unknown scope "write"/);
  const noTenant = await sluice("create");
  assert.equal(noTenant.code, 2);
  const unknown = await sluice("revoke", "0123456789ab");
  assert.equal(unknown.code, 2);
});

test("a per-key rate given at creation applies", async () => {
  const created = await sluice("create", "--tenant", "cli-tenant", "--rate", "1");
  const key = created.stdout.trimEnd().split("\n").at(-1) ?? "";
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push((await fx.post("/v1/messages", simpleMessage(), key)).status);
  assert.equal(statuses[0], 202);
  assert.ok(statuses.includes(429), statuses.join(","));
});

test("a POST without Content-Type is a 415", async () => {
  const key = await fx.key("acme");
  const res = await fetch(`${fx.url}/v1/messages`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: new Uint8Array(Buffer.from(JSON.stringify(simpleMessage()))) });
  const body = (await res.json()) as { error: { code: string } };
  assert.equal(res.status, 415, JSON.stringify(body));
  assert.equal(body.error.code, "unsupported_media_type");
});

test("sluice keys create --operator makes a key that sees the cluster's stats; a tenant's admin key sees its tenant only", async () => {
  const created = await sluice("create", "--tenant", "ops", "--scopes", "admin", "--operator");
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /created operator API key/);
  const operatorKey = created.stdout.trimEnd().split("\n").at(-1) ?? "";
  const keyId = /API key ([0-9a-f]{12})/.exec(created.stdout)?.[1];
  assert.match((await sluice("list", "--tenant", "ops")).stdout, new RegExp(`${keyId}\\s+ops\\s+admin,operator`));
  const tenantKey = await fx.key("acme", ["admin"]);
  const cluster = await waitFor("cluster stats", async () => {
    const r = await fx.get("/v1/stats?history=0", operatorKey);
    return r.status === 200 ? r.body : undefined;
  });
  assert.ok(Array.isArray(cluster.nodes) && Array.isArray(cluster.destinations));
  const own = await fx.get("/v1/stats", tenantKey);
  assert.equal(own.status, 200);
  assert.deepEqual([own.body.scope, own.body.tenant, own.body.nodes], ["tenant", "acme", undefined]);
});
