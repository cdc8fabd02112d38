import { test } from "node:test";
import assert from "node:assert/strict";
import { describeConfig, loadConfig, isSluiceError } from "../../protocol/index.ts";

test("defaults give a working configuration", () => {
  const c = loadConfig({});
  assert.deepEqual(c.nats.servers, ["nats://127.0.0.1:4222"]);
  assert.equal(c.http.port, 8080);
  assert.equal(c.partitions, 32);
  assert.deepEqual(c.retry.scheduleMs.slice(0, 3), [60_000, 300_000, 900_000]);
  assert.equal(c.retry.maxAgeMs, 72 * 3_600_000);
});

test("environment variables override defaults", () => {
  const c = loadConfig({
    NATS_URL: "nats://a:4222,nats://b:4222",
    SLUICE_HTTP_PORT: "9000",
    SLUICE_PARTITIONS: "8",
    SLUICE_RETRY_SCHEDULE: "1s,2s,5s",
    SLUICE_MAX_AGE: "30s",
    SLUICE_ROUTES: "example.com=127.0.0.1:2525,*=smtp://u:p@relay.example:587",
  });
  assert.deepEqual(c.nats.servers, ["nats://a:4222", "nats://b:4222"]);
  assert.equal(c.http.port, 9000);
  assert.equal(c.partitions, 8);
  assert.deepEqual(c.retry.scheduleMs, [1000, 2000, 5000]);
  assert.equal(c.retry.maxAgeMs, 30_000);
  assert.equal(c.routes.length, 2);
  assert.deepEqual(c.routes[1]?.auth, { user: "u", pass: "p" });
});

test("a bad value fails fast naming the variable and what it expected", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ SLUICE_PARTITIONS: "lots" }, /SLUICE_PARTITIONS: expected a whole number from 1 to 1024, got "lots"/],
    [{ SLUICE_HTTP_PORT: "70000" }, /SLUICE_HTTP_PORT: expected a whole number/],
    [{ SLUICE_MAX_AGE: "forever" }, /SLUICE_MAX_AGE: expected a duration/],
    [{ SLUICE_RETRY_SCHEDULE: "1m,soon" }, /SLUICE_RETRY_SCHEDULE: expected comma-separated durations/],
    [{ SLUICE_ROUTES: "example.com" }, /SLUICE_ROUTES: route "example.com" is not pattern=host:port/],
    [{ NATS_URL: "http://x" }, /NATS_URL: expected nats:\/\//],
    [{ SLUICE_PROFILE: "dev" }, /SLUICE_PROFILE: expected "local" or "production"/],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (e: unknown) => isSluiceError(e) && e.kind === "validation" && message.test(e.message),
      JSON.stringify(env),
    );
  }
});

test("sluice config masks secrets", () => {
  const lines = describeConfig(
    loadConfig({ NATS_TOKEN: "s3cret", NATS_URL: "nats://user:hunter2@host:4222", SLUICE_ROUTES: "*=smtp://u:pw@relay:587" }),
  );
  const text = lines.join("\n");
  assert.doesNotMatch(text, /s3cret|hunter2|:pw@/);
  assert.match(text, /NATS_TOKEN=\*\*\*\*/);
  assert.match(text, /NATS_URL=nats:\/\/user:\*\*\*\*@host:4222/);
  assert.match(text, /SLUICE_ROUTES=\*=smtp:\/\/u:\*\*\*\*@relay:587/);
});

test("SLUICE_NODE_ROLES: all by default, 'services' is everything but delivery, a list keeps the canonical order, an unknown role fails", () => {
  assert.deepEqual(loadConfig({}).nodeRoles, ["delivery", "fanout", "dead-letterer", "events", "webhooks", "scheduler"]);
  assert.deepEqual(loadConfig({ SLUICE_NODE_ROLES: "services" }).nodeRoles, ["fanout", "dead-letterer", "events", "webhooks", "scheduler"]);
  assert.deepEqual(loadConfig({ SLUICE_NODE_ROLES: "webhooks, delivery" }).nodeRoles, ["delivery", "webhooks"]);
  assert.ok(describeConfig(loadConfig({ SLUICE_NODE_ROLES: "delivery" })).includes("SLUICE_NODE_ROLES=delivery"));
  assert.ok(describeConfig(loadConfig({})).includes("SLUICE_NODE_ROLES=all"));
  for (const bad of ["", "delivery,mailer"]) {
    assert.throws(() => loadConfig({ SLUICE_NODE_ROLES: bad }), (e: unknown) => isSluiceError(e) && /SLUICE_NODE_ROLES: expected "all", "services" or a comma-separated list/.test(e.message), bad);
  }
});
