import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import type { FastifyInstance } from "fastify";
import { KV_BUCKETS, loadConfig } from "../../protocol/index.ts";
import {
  addSuppression,
  ensureTopology,
  getSuppression,
  topologyFor,
  topologyOptionsFrom,
} from "../../protocol/io/index.ts";
import { suppressionRoutes } from "../../gateway/routes/suppressions.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { testApp } from "./support/failure.ts";

const config = loadConfig({ SLUICE_PARTITIONS: "2", SLUICE_LOG_LEVEL: "silent" });
let server: NatsServer;
let nc: NatsConnection;
let app: FastifyInstance;
const as = (tenant: string, scopes = "read,admin") => ({ "x-test-tenant": tenant, "x-test-scopes": scopes });

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  app = await testApp(nc, config, suppressionRoutes);
});

after(async () => {
  await app?.close();
  await nc?.close();
  await server?.dispose();
});

test("PUT suppresses an address for the caller's tenant only, case-insensitively", async () => {
  const put = await app.inject({ method: "PUT", url: "/v1/suppressions/Ann@Example.com", headers: as("acme"), payload: { detail: "asked by phone" } });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().address, "ann@example.com");
  assert.equal(put.json().reason, "manual");

  const kv = await new Kvm(nc).open(KV_BUCKETS.suppressions);
  // What the delivery path checks before any SMTP attempt:
  assert.equal((await getSuppression(kv, "acme", "ANN@example.com"))?.reason, "manual");
  assert.equal(await getSuppression(kv, "other", "ann@example.com"), undefined);

  const get = await app.inject({ method: "GET", url: "/v1/suppressions/ann@EXAMPLE.com", headers: as("acme", "read") });
  assert.equal(get.statusCode, 200);
  assert.equal(get.json().detail, "asked by phone");
  const elsewhere = await app.inject({ method: "GET", url: "/v1/suppressions/ann@example.com", headers: as("other") });
  assert.equal(elsewhere.statusCode, 404);
});

test("GET lists the tenant's suppressions, hard bounces included", async () => {
  const kv = await new Kvm(nc).open(KV_BUCKETS.suppressions);
  await addSuppression(kv, "listco", { address: "gone@example.com", reason: "hard_bounce", detail: "550 5.1.1 User Unknown", at: Date.now() });
  await app.inject({ method: "PUT", url: "/v1/suppressions/manual@example.com", headers: as("listco") });
  const res = await app.inject({ method: "GET", url: "/v1/suppressions", headers: as("listco", "read") });
  assert.equal(res.statusCode, 200);
  const list = (res.json() as { suppressions: { address: string; reason: string }[] }).suppressions;
  assert.deepEqual(list.map((s) => `${s.address}:${s.reason}`).sort(), ["gone@example.com:hard_bounce", "manual@example.com:manual"]);
});

test("DELETE lifts a suppression; a second DELETE is 404", async () => {
  await app.inject({ method: "PUT", url: "/v1/suppressions/bob@example.com", headers: as("delco") });
  const del = await app.inject({ method: "DELETE", url: "/v1/suppressions/bob@example.com", headers: as("delco") });
  assert.equal(del.statusCode, 204);
  const again = await app.inject({ method: "DELETE", url: "/v1/suppressions/bob@example.com", headers: as("delco") });
  assert.equal(again.statusCode, 404);
  assert.equal(again.json().error.code, "not_found");
});

test("bad input is refused with the field at fault; writes need the admin scope", async () => {
  const badAddress = await app.inject({ method: "PUT", url: "/v1/suppressions/not-an-address", headers: as("acme") });
  assert.equal(badAddress.statusCode, 400);
  assert.equal(badAddress.json().error.field, "address");
  const badReason = await app.inject({ method: "PUT", url: "/v1/suppressions/x@example.com", headers: as("acme"), payload: { reason: "because" } });
  assert.equal(badReason.statusCode, 400);
  assert.equal(badReason.json().error.field, "reason");
  const readOnly = await app.inject({ method: "PUT", url: "/v1/suppressions/x@example.com", headers: as("acme", "read") });
  assert.equal(readOnly.statusCode, 403);
  const anon = await app.inject({ method: "GET", url: "/v1/suppressions" });
  assert.equal(anon.statusCode, 401);
});
