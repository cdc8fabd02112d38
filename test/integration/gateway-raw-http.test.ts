import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";
import { rawExchange, type RawResponse } from "./support/raw-http.ts";

let fx: GatewayFixture;
let auth: string;

before(async () => {
  fx = await startGatewayFixture();
  auth = `Authorization: Bearer ${await fx.key("acme")}\r\n`;
});
after(async () => {
  await fx?.close();
});

/** The API's one error shape, and nothing else: {"error": {code, message, field?}}. */
function assertErrorShape(r: RawResponse, status: number, code: string): void {
  assert.equal(r.status, status, r.body);
  assert.match(r.headers["content-type"] ?? "", /^application\/json/);
  const body = JSON.parse(r.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ["error"], r.body);
  const error = body.error as Record<string, unknown>;
  assert.ok(Object.keys(error).every((k) => ["code", "message", "field"].includes(k)), r.body);
  assert.equal(error.code, code, r.body);
  assert.equal(typeof error.message, "string");
}

const post = (headers: string, body: string) => `POST /v1/messages HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\n${headers}\r\n${body}`;

const cases: [string, () => string, number, string, boolean?][] = [
  ["headers larger than the server takes", () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`, 431, "headers_too_large"],
  ["a path that is not valid percent-encoding (FST_ERR_BAD_URL)", () => `GET /v1/batches/%zz HTTP/1.1\r\nHost: x\r\n${auth}\r\n`, 400, "bad_url"],
  ["a bad chunk size", () => post("Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"), 400, "invalid_chunk"],
  ["a negative Content-Length", () => post("Content-Length: -1\r\n", "{}"), 400, "invalid_content_length"],
  ["two Content-Lengths", () => post("Content-Length: 2\r\nContent-Length: 3\r\n", "{}"), 400, "invalid_content_length"],
  ["Content-Length with Transfer-Encoding", () => post("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "2\r\n{}\r\n0\r\n\r\n"), 400, "invalid_chunk"],
  ["a body shorter than its Content-Length", () => post("Content-Length: 100\r\n", "{}"), 400, "incomplete_body", true],
  ["a body longer than its Content-Length (the rest is not HTTP)", () => post("Content-Length: 2\r\n", "{}garbage garbage\r\n\r\n"), 400, "bad_request"],
  ["a folded (obs-fold) header", () => `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n`, 400, "invalid_header"],
  ["an unknown method", () => `FOO / HTTP/1.1\r\nHost: x\r\n\r\n`, 400, "bad_request"],
  ["no Host header", () => `GET /healthz HTTP/1.1\r\n\r\n`, 400, "missing_host"],
  ["an unknown route", () => `GET /nope HTTP/1.1\r\nHost: x\r\n\r\n`, 404, "not_found"],
  ["a body that is not JSON", () => post("Content-Length: 5\r\n", "<xml>"), 400, "invalid_json"],
];

for (const [what, request, status, code, halfClose] of cases) {
  test(`malformed HTTP is answered in the API's error shape: ${what}`, async () => {
    const responses = await rawExchange(fx.gateway.port, request(), (rs) => rs.some((r) => r.status >= 400), halfClose);
    const last = responses.at(-1);
    assert.ok(last, "an answer, not a dropped connection");
    assertErrorShape(last, status, code);
  });
}

test("the gateway still answers after all of them", async () => {
  assert.equal((await fx.get("/healthz", undefined)).status, 200);
});
