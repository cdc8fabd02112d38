import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../actors/index.ts";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { KV_BUCKETS } from "../../protocol/index.ts";
import { createApiKey } from "../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { waitFor } from "../harness/ports.ts";
import { startWorld, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
let node: ActorNode;
let gateway: Gateway;
const keys = { acme: "", bravo: "", operator: "" };

before(async () => {
  peer = await startSmtpPeer({ domains: { "gone.test": { rcpt: () => ({ code: 550, text: "5.1.1 no such user" }) } } });
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_HTTP_HOST: "127.0.0.1", SLUICE_HTTP_PORT: "0" });
  node = await startNode(world.config, world.logger, world.nc);
  gateway = await startGateway(world.config, pino({ level: "silent" }), world.nc);
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.keys);
  keys.acme = (await createApiKey(kv, { tenant: "acme", scopes: ["admin"] })).key;
  keys.bravo = (await createApiKey(kv, { tenant: "bravo", scopes: ["admin"] })).key;
  keys.operator = (await createApiKey(kv, { tenant: "ops", scopes: ["admin"], operator: true })).key;
});

after(async () => {
  await gateway?.close();
  await node?.close();
  await peer?.close();
  await world?.dispose();
});

const call = async (method: string, path: string, key: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${gateway.port}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Record<string, any> };
};

test("GET /v1/stats shows a tenant key its own tenant only; cluster-wide figures take an operator key", async () => {
  // Tenant acme sends to a destination of its own and gets one hard bounce (a dead letter).
  const sent = await call("POST", "/v1/messages", keys.acme, { from: "news@acme.test", to: ["ann@acme-customers.test", "old@gone.test"], subject: "Hi", text: "Hello" });
  assert.equal(sent.status, 202, sent.text);

  // The operator sees the cluster: acme's destination among the destinations, the DLQ.
  const cluster = await waitFor("the operator's stats to show acme's destination and dead letter", async () => {
    const s = await call("GET", "/v1/stats?history=0", keys.operator);
    const seen = s.status === 200 && s.text.includes("acme-customers.test") && s.body.dlq?.messages === 1;
    return seen ? s.body : undefined;
  });
  assert.ok(Array.isArray(cluster.nodes) && cluster.nodes.length === 1);

  // Tenant bravo's admin key: none of acme's destinations, dead letters or totals.
  const bravo = await call("GET", "/v1/stats", keys.bravo);
  assert.equal(bravo.status, 200, bravo.text);
  assert.doesNotMatch(bravo.text, /acme/);
  assert.equal(bravo.body.tenant, "bravo");
  assert.equal(bravo.body.destinations, undefined);
  assert.equal(bravo.body.nodes, undefined);
  assert.equal(bravo.body.totals, undefined);
  assert.equal(bravo.body.dlq.messages, 0);
  assert.equal(bravo.body.events.delivered, 0);
  const peek = await call("GET", "/v1/stats?tenant=acme", keys.bravo);
  assert.equal(peek.status, 403);
  assert.equal(peek.body.error.code, "forbidden");

  // Tenant acme's key: its own figures, still no node-wide destination telemetry.
  const acme = await waitFor("acme's delivered and bounced events", async () => {
    const s = await call("GET", "/v1/stats", keys.acme);
    return s.body.events?.delivered === 1 && s.body.events?.bounced === 1 ? s : undefined;
  });
  assert.equal(acme.body.tenant, "acme");
  assert.equal(acme.body.dlq.messages, 1);
  assert.equal(acme.body.destinations, undefined);
  assert.doesNotMatch(acme.text, /acme-customers\.test/);

  // The operator narrows to one tenant with ?tenant=.
  const narrowed = await call("GET", "/v1/stats?tenant=acme", keys.operator);
  assert.deepEqual([narrowed.body.tenant, narrowed.body.dlq.messages, narrowed.body.events.delivered], ["acme", 1, 1]);
  const other = await call("GET", "/v1/stats?tenant=bravo", keys.operator);
  assert.deepEqual([other.body.tenant, other.body.dlq.messages], ["bravo", 0]);
  assert.equal((await call("GET", "/v1/stats?tenant=Not.A.Tenant", keys.operator)).status, 400);
});

test("the per-tenant routes stay per tenant: bravo's key lists none of acme's dead letters or suppressions", async () => {
  await waitFor("acme's hard bounce suppressed", async () => {
    const s = await call("GET", "/v1/suppressions", keys.acme);
    return s.body.suppressions?.length === 1 ? true : undefined;
  });
  const dlq = await call("GET", "/v1/dlq", keys.bravo);
  assert.equal(dlq.status, 200, dlq.text);
  assert.doesNotMatch(dlq.text, /gone\.test/);
  const suppressions = await call("GET", "/v1/suppressions", keys.bravo);
  assert.deepEqual(suppressions.body.suppressions, []);
  // An operator key is still a tenant key on the tenant routes.
  assert.doesNotMatch((await call("GET", "/v1/dlq", keys.operator)).text, /gone\.test/);
});
