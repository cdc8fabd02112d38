// sluice-test: serial (its guards bound time: scripts/test.sh runs it alone)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { waitFor } from "../harness/ports.ts";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";

/**
 * No request can stall the gateway: each input below once took seconds to minutes of
 * validation (backtracking regexes, quadratic scans, unbounded walks). Every one must be
 * refused with a 4xx well inside BOUND_MS (a guard, not a benchmark), and /healthz must
 * answer meanwhile.
 */
const BOUND_MS = 2000;

let fx: GatewayFixture;
let key: string;

before(async () => {
  fx = await startGatewayFixture();
  key = await fx.key("acme");
  // Warm: key lookup, NATS handles and JIT belong to no pathological input. A busy machine
  // may make the very first JetStream publish time out (503, retry later): retry it like a client.
  await waitFor("a first message to be accepted", async () => ((await fx.post("/v1/messages", simpleMessage(), key)).status === 202 ? true : undefined), 30_000, 200);
});
after(async () => {
  await fx?.close();
});

const MB = 1024 * 1024;
const spaces = " ".repeat(599);
const fifty = (s: string) => Array(50).fill(s);

const corpus: [string, string, unknown][] = [
  ["to, cc, bcc and replyTo of 50 runs of 599 spaces", "/v1/messages", simpleMessage({ to: fifty(spaces), cc: fifty(spaces), bcc: fifty(spaces), replyTo: fifty(spaces) })],
  ["599 spaces then <", "/v1/messages", simpleMessage({ to: fifty(`${spaces}<`) })],
  ["runs of quotes", "/v1/messages", simpleMessage({ from: '"'.repeat(599), to: fifty('"\\"'.repeat(199)) })],
  ["quoted words before an address", "/v1/messages", simpleMessage({ to: fifty(`${'"a" '.repeat(140)}<a@b.example>`) })],
  ["long runs of dots", "/v1/messages", simpleMessage({ to: fifty(".".repeat(599)), from: `${"a.".repeat(150)}@acme.test` })],
  ["long runs of @", "/v1/messages", simpleMessage({ to: fifty("@".repeat(599)) })],
  ["long runs of <", "/v1/messages", simpleMessage({ to: fifty("<".repeat(599)), cc: fifty(`${"<".repeat(299)}${">".repeat(299)}`) })],
  ["spaces and dots around @", "/v1/messages", simpleMessage({ to: fifty(`${" .".repeat(149)}@${". ".repeat(149)}`) })],
  ["base64 of 64K newlines then a bad character", "/v1/messages", simpleMessage({ attachments: [{ filename: "a.bin", contentBase64: `${"\n".repeat(65_536)}!` }] })],
  ["base64 of CRLFs and padding", "/v1/messages", simpleMessage({ attachments: Array(20).fill({ filename: "a.bin", contentBase64: `${"\r\n".repeat(50_000)}==${"\r\n".repeat(50_000)}x` }) })],
  ["100,000 levels of nested arrays", "/v1/messages", `{"from":"a@acme.test","to":"b@example.com","subject":"s","text":${"[".repeat(100_000)}${"]".repeat(100_000)}}`],
  ["100,000 levels of nested objects", "/v1/messages", `${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`],
  ["a 5 MB subject", "/v1/messages", simpleMessage({ subject: "x".repeat(5 * MB) })],
  ["a 5 MB address", "/v1/messages", simpleMessage({ to: `${"a".repeat(5 * MB)}@example.com` })],
  ["a 5 MB display name", "/v1/messages", simpleMessage({ from: { name: "n".repeat(5 * MB), address: "a@acme.test" } })],
  ["a 5 MB header name", "/v1/messages", simpleMessage({ headers: { ["X".repeat(5 * MB)]: "v" } })],
  ["a 5 MB header value", "/v1/messages", simpleMessage({ headers: { "X-A": "v".repeat(5 * MB) } })],
  ["a 5 MB metadata key", "/v1/messages", simpleMessage({ metadata: { ["k".repeat(5 * MB)]: "v" } })],
  ["a 5 MB MIME type", "/v1/messages", simpleMessage({ attachments: [{ filename: "a", contentType: `${"a".repeat(5 * MB)}`, contentBase64: "" }] })],
  ["200,000 header fields", "/v1/messages", simpleMessage({ headers: Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`X-H${i}`, "v"])) })],
  ["200,000 tags", "/v1/messages", simpleMessage({ tags: Array(200_000).fill("t") })],
  ["400,000 recipients", "/v1/messages", simpleMessage({ to: Array.from({ length: 400_000 }, (_, i) => `r${i}@example.com`) })],
  ["100,000 lone surrogates", "/v1/messages", `{"from":"a@acme.test","to":"b@example.com","subject":"s","text":"${"\\ud800".repeat(100_000)}"}`],
  ["a subject of 1,000,000 escaped NULs", "/v1/messages", `{"from":"a@acme.test","to":"b@example.com","text":"t","subject":"${"\\u0000".repeat(1_000_000)}"}`],
  ["5 MB of whitespace before the JSON", "/v1/messages", `${" ".repeat(5 * MB)}{`],
  ["300,000 batch recipients", "/v1/batches", { from: "a@acme.test", subject: "s", text: "t", recipients: Array(300_000).fill({ to: "a@example.com" }) }],
  ["batch recipients of 599 spaces", "/v1/batches", { from: "a@acme.test", subject: "s", text: "t", recipients: Array(20_000).fill({ to: spaces }) }],
];

const bodyOf = (body: unknown): string => (typeof body === "string" ? body : JSON.stringify(body));

for (const [what, path, body] of corpus) {
  test(`refused quickly: ${what}`, async () => {
    const text = bodyOf(body);
    const started = performance.now();
    const res = await fx.post(path, text, key);
    const took = performance.now() - started;
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    assert.equal(typeof res.body.error?.code, "string", JSON.stringify(res.body).slice(0, 300));
    assert.ok(took < BOUND_MS, `answered ${res.status} ${res.body.error?.code} after ${took.toFixed(0)} ms`);
  });
}

test("/healthz answers while a pathological request is in flight", async () => {
  // Half of the 96 KB body of spaces is sent; the request is held open on the gateway.
  const body = bodyOf(corpus[0]?.[2]);
  const socket = connect({ port: fx.gateway.port, host: "127.0.0.1" });
  let answer = "";
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("data", (c: Buffer) => (answer += c.toString("latin1")));
  socket.write(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`);
  socket.write(body.slice(0, body.length / 2));
  const health = await fx.get("/healthz", undefined);
  assert.equal(health.status, 200);
  assert.equal(answer, "", "the pathological request is still in flight");
  // And while the gateway validates the whole of it, a health check is not held up.
  const started = performance.now();
  socket.end(body.slice(body.length / 2));
  const [again] = await Promise.all([fx.get("/healthz", undefined), closed]);
  assert.equal(again.status, 200);
  assert.ok(performance.now() - started < BOUND_MS);
  assert.match(answer, /^HTTP\/1\.1 400 /);
});
