import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRoutes, routeFor, withCatchAll } from "../../protocol/index.ts";

test("routes parse host:port, smtps and auth", () => {
  const parsed = parseRoutes("example.com=127.0.0.1:2525, *.corp.test=mx.corp:25, *=smtps://me%40x:p%3Aw@relay.example");
  assert.ok("routes" in parsed);
  const [a, b, c] = parsed.routes;
  assert.deepEqual(a, { pattern: "example.com", host: "127.0.0.1", port: 2525, secure: false });
  assert.equal(b?.pattern, "*.corp.test");
  assert.deepEqual(c, { pattern: "*", host: "relay.example", port: 465, secure: true, auth: { user: "me@x", pass: "p:w" } });
});

test("the most specific route wins", () => {
  const parsed = parseRoutes("example.com=a:1,*.example.com=b:2,*=c:3");
  assert.ok("routes" in parsed);
  assert.equal(routeFor(parsed.routes, "example.com")?.host, "a");
  assert.equal(routeFor(parsed.routes, "mail.example.com")?.host, "b");
  assert.equal(routeFor(parsed.routes, "other.org")?.host, "c");
  assert.equal(routeFor([], "other.org"), undefined);
});

test("bad routes are refused with the reason", () => {
  assert.deepEqual(parseRoutes("nope"), { error: 'route "nope" is not pattern=host:port' });
  assert.match((parseRoutes("bad domain=a:1") as { error: string }).error, /not a domain/);
});

test("the local profile keeps the capture server as catch-all beside the operator's routes", () => {
  const parsed = parseRoutes("dead.test=127.0.0.1:1");
  assert.ok("routes" in parsed);
  const routes = withCatchAll(parsed.routes, "127.0.0.1", 2525);
  assert.equal(routeFor(routes, "dead.test")?.port, 1);
  assert.deepEqual(routeFor(routes, "gmail.com"), { pattern: "*", host: "127.0.0.1", port: 2525, secure: false });
  const own = parseRoutes("*=relay.example:587");
  assert.ok("routes" in own);
  assert.equal(withCatchAll(own.routes, "127.0.0.1", 2525).length, 1, "an operator's own * is kept, not overridden");
});
