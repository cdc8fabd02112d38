import assert from "node:assert/strict";
import { test } from "node:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { pino } from "pino";
import { buildGateway } from "../../gateway/server.ts";
import { NatsState } from "../../gateway/nats-state.ts";
import { loadConfig } from "../../protocol/index.ts";

type Doc = { paths: Record<string, Record<string, { operationId?: string; summary?: string; responses: Record<string, unknown>; security?: unknown[] }>> };

/** The gateway app without NATS (routes answer 503; the docs need none), and every route it registered. */
async function app() {
  const config = loadConfig({ SLUICE_LOG_LEVEL: "silent" });
  const logger = pino({ level: "silent" });
  const routes: { method: string; url: string }[] = [];
  const a = buildGateway(
    { config, logger, nats: new NatsState(config, logger) },
    { configure: (f) => f.addHook("onRoute", (r) => void [r.method].flat().forEach((method) => routes.push({ method, url: r.url }))) },
  );
  await a.ready();
  return { a, routes };
}

test("the OpenAPI document validates, and every operation has a unique operationId, a summary and its error answers", async () => {
  const { a } = await app();
  const doc = a.swagger() as unknown as Doc;
  await a.close();
  await SwaggerParser.validate(structuredClone(doc) as never);
  const ids = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const name = `${method} ${path}`;
      assert.ok(op.operationId, `${name} has an operationId`);
      assert.ok(!ids.has(op.operationId), `${name}: operationId ${op.operationId} is unique`);
      ids.add(op.operationId);
      assert.ok(op.summary, `${name} has a summary`);
      assert.ok(op.responses["400"] && op.responses["500"], `${name} documents 400 and 500`);
      // A public operation (`security: []`, e.g. one-click unsubscribe, authorised by its signed token) has no key to refuse.
      const isPublic = Array.isArray(op.security) && op.security.length === 0;
      if (path.startsWith("/v1/") && !isPublic) for (const s of ["401", "403", "429", "503"]) assert.ok(op.responses[s], `${name} documents ${s}`);
    }
  }
});

test("every route the gateway registers is in the OpenAPI document", async () => {
  const { a, routes } = await app();
  const doc = a.swagger() as unknown as Doc;
  try {
    const missing = routes
      .filter((r) => r.method !== "HEAD" && !r.url.startsWith("/docs") && !r.url.startsWith("/dashboard"))
      .map((r) => ({ method: r.method.toLowerCase(), path: r.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}") }))
      .filter((r) => doc.paths[r.path]?.[r.method] === undefined)
      .map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(missing, []);
  } finally {
    await a.close();
  }
});

test("GET /docs is an HTML reference served from the package itself, naming every operation; /docs/openapi.json is the spec", async () => {
  const { a } = await app();
  const doc = a.swagger() as unknown as Doc;
  try {
    const page = await a.inject({ method: "GET", url: "/docs", headers: { host: "x" } });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    for (const ops of Object.values(doc.paths)) for (const op of Object.values(ops)) assert.ok(page.body.includes(`<b>${op.operationId}</b>`), `${op.operationId} in the page`);
    // No CDN: every script and stylesheet comes from this gateway.
    const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    assert.ok(assets.some((u) => u.endsWith("swagger-ui-bundle.js")));
    for (const u of assets) assert.ok(!/^(https?:)?\/\//.test(u), `${u} is local`);
    const bundle = await a.inject({ method: "GET", url: "/docs/static/swagger-ui-bundle.js", headers: { host: "x" } });
    assert.equal(bundle.statusCode, 200);
    const spec = await a.inject({ method: "GET", url: "/docs/openapi.json", headers: { host: "x" } });
    assert.deepEqual(spec.json(), JSON.parse(JSON.stringify(doc)));
    // Generated from the routes' own schemas: the activity search's query is ActivityQuery's fields.
    const search = (spec.json() as Doc).paths["/v1/messages"]?.get as unknown as { parameters: { name: string }[] };
    assert.deepEqual(search.parameters.map((p) => p.name).sort(), ["cursor", "limit", "since", "status", "tag", "to"]);
  } finally {
    await a.close();
  }
});
