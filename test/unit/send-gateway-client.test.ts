import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { postJson } from "../../cli/send/gateway-client.ts";

/** A local HTTP server answering from a script, recording each request's Idempotency-Key. */
async function scripted(answers: ((res: ServerResponse) => void)[]): Promise<{ url: string; keys: (string | undefined)[]; close: () => Promise<void> }> {
  const keys: (string | undefined)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      keys.push(req.headers["idempotency-key"] as string | undefined);
      const answer = answers[Math.min(keys.length - 1, answers.length - 1)];
      answer?.(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, keys, close: () => new Promise((r) => server.close(() => r())) };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (res: ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

test("every retry of one request carries the same Idempotency-Key; another request gets another", async () => {
  const gw = await scripted([
    json(503, { error: { code: "nats_unavailable", message: "down" } }, { "retry-after": "0" }),
    json(409, { error: { code: "idempotency_in_progress", message: "still running" } }, { "retry-after": "0" }),
    json(202, { id: "r1", recipients: [] }),
  ]);
  try {
    const first = await postJson<{ id: string }>({ url: gw.url, key: "k" }, "v1/messages", { to: "a@example.com" });
    assert.deepEqual(first, { ok: true, status: 202, body: { id: "r1", recipients: [] } });
    assert.equal(gw.keys.length, 3);
    assert.match(gw.keys[0] ?? "", /^sluice-send-[0-9a-f-]{36}$/);
    assert.equal(new Set(gw.keys).size, 1, `one key for all tries: ${gw.keys.join(", ")}`);

    await postJson({ url: gw.url, key: "k" }, "v1/messages", { to: "b@example.com" });
    assert.notEqual(gw.keys[3], gw.keys[0]);
  } finally {
    await gw.close();
  }
});

test("a 409 for another body is not retried: it is the caller's answer", async () => {
  const gw = await scripted([json(409, { error: { code: "idempotency_conflict", message: "other body", field: "Idempotency-Key" } })]);
  try {
    const answer = await postJson({ url: gw.url, key: "k" }, "v1/messages", {});
    assert.deepEqual(answer, { ok: false, status: 409, code: "idempotency_conflict", message: "other body", field: "Idempotency-Key" });
    assert.equal(gw.keys.length, 1);
  } finally {
    await gw.close();
  }
});
