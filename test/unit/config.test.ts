import { test } from "node:test";
import assert from "node:assert/strict";
import { describeConfig, ENV_DEFAULTS, isSluiceError, loadConfig, SECRET_ENV, SETTINGS } from "../../protocol/index.ts";

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
  assert.deepEqual(loadConfig({}).nodeRoles, ["delivery", "fanout", "dead-letterer", "events", "webhooks", "inbound", "scheduler"]);
  assert.deepEqual(loadConfig({ SLUICE_NODE_ROLES: "services" }).nodeRoles, ["fanout", "dead-letterer", "events", "webhooks", "inbound", "scheduler"]);
  assert.deepEqual(loadConfig({ SLUICE_NODE_ROLES: "webhooks, delivery" }).nodeRoles, ["delivery", "webhooks"]);
  assert.ok(describeConfig(loadConfig({ SLUICE_NODE_ROLES: "delivery" })).includes("SLUICE_NODE_ROLES=delivery"));
  assert.ok(describeConfig(loadConfig({})).includes("SLUICE_NODE_ROLES=all"));
  for (const bad of ["", "delivery,mailer"]) {
    assert.throws(() => loadConfig({ SLUICE_NODE_ROLES: bad }), (e: unknown) => isSluiceError(e) && /SLUICE_NODE_ROLES: expected "all", "services" or a comma-separated list/.test(e.message), bad);
  }
});

test("the settings table is the one declaration: every variable has a default that parses and a line in describeConfig", () => {
  const names = Object.keys(SETTINGS);
  assert.deepEqual(Object.keys(ENV_DEFAULTS), names);
  const lines = describeConfig(loadConfig({}));
  assert.deepEqual(lines.map((l) => l.slice(0, l.indexOf("="))), names);
  assert.deepEqual(SECRET_ENV, ["NATS_TOKEN", "SLUICE_SECRET_KEY"]);
});

test("every bad variable is named in one error, not only the first", () => {
  assert.throws(
    () => loadConfig({ SLUICE_HTTP_PORT: "x", SLUICE_MAX_AGE: "soon" }),
    (e: unknown) => isSluiceError(e) && /SLUICE_HTTP_PORT/.test(e.message) && /SLUICE_MAX_AGE/.test(e.message),
  );
});

test("reputation loop config: a bounce domain or public URL needs SLUICE_SECRET_KEY; the secret is masked; bad values name their variable", () => {
  assert.throws(() => loadConfig({ SLUICE_BOUNCE_DOMAIN: "bounces.example.com" }), (e: unknown) => isSluiceError(e) && /SLUICE_BOUNCE_DOMAIN needs SLUICE_SECRET_KEY/.test(e.message));
  assert.throws(() => loadConfig({ SLUICE_PUBLIC_URL: "https://mail.example.com" }), (e: unknown) => isSluiceError(e) && /SLUICE_PUBLIC_URL needs SLUICE_SECRET_KEY/.test(e.message));
  assert.throws(() => loadConfig({ SLUICE_BOUNCE_DOMAIN: "not a domain", SLUICE_SECRET_KEY: "0123456789abcdef" }), (e: unknown) => isSluiceError(e) && /SLUICE_BOUNCE_DOMAIN/.test(e.message));
  assert.throws(() => loadConfig({ SLUICE_SECRET_KEY: "short" }), (e: unknown) => isSluiceError(e) && /SLUICE_SECRET_KEY: expected at least 16/.test(e.message));
  const c = loadConfig({ SLUICE_BOUNCE_DOMAIN: "Bounces.Example.com", SLUICE_SECRET_KEY: "0123456789abcdef", SLUICE_PUBLIC_URL: "https://mail.example.com/", SLUICE_INBOUND_PORT: "2600" });
  assert.equal(c.bounceDomain, "bounces.example.com");
  assert.equal(c.publicUrl, "https://mail.example.com");
  assert.equal(c.inbound.port, 2600);
  const lines = describeConfig(c);
  assert.ok(lines.includes("SLUICE_SECRET_KEY=****"));
  assert.ok(!lines.some((l) => l.includes("0123456789abcdef")));
  assert.equal(loadConfig({}).bounceDomain, undefined);
});
