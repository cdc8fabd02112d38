import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import { simpleMessage, startGatewayFixture, type GatewayFixture } from "./gateway-fixture.ts";
import { waitFor } from "../harness/ports.ts";

let fx: GatewayFixture;
let key: string;
let late: Gateway | undefined;

before(async () => {
  fx = await startGatewayFixture();
  key = await fx.key("acme");
});
after(async () => {
  await late?.close();
  await fx?.close();
});

test("NATS stopped mid-test: 503 with Retry-After (never 202), then recovery by itself", async () => {
  assert.equal((await fx.post("/v1/messages", simpleMessage(), key)).status, 202);
  const stored = await fx.sendCount();

  await fx.server.stop();
  // A gateway started while NATS is down answers too (503), and joins when NATS returns.
  late = await startGateway({ ...fx.config }, pino({ level: "silent" }));
  const lateUrl = `http://127.0.0.1:${late.port}`;

  const started = Date.now();
  const down = await fx.post("/v1/messages", simpleMessage(), key);
  assert.equal(down.status, 503, JSON.stringify(down.body));
  assert.equal(down.body.error.code, "nats_unavailable");
  assert.ok(Number(down.headers.get("retry-after")) > 0);
  assert.ok(Date.now() - started < 6000, "answered promptly, not after a hung publish");
  const batch = await fx.post("/v1/batches", { from: "a@acme.test", subject: "s", text: "t", recipients: [{ to: "b@example.com" }] }, key);
  assert.equal(batch.status, 503);
  assert.equal((await fx.get("/readyz", undefined)).status, 503);
  assert.equal((await fx.get("/healthz", undefined)).status, 200);
  const lateDown = await fetch(`${lateUrl}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(simpleMessage()),
  });
  assert.equal(lateDown.status, 503);

  await fx.server.start();
  await waitFor("the gateway to accept again", async () => ((await fx.post("/v1/messages", simpleMessage(), key)).status === 202 ? true : undefined), 30_000, 250);
  await waitFor("the late gateway to accept", async () => {
    const res = await fetch(`${lateUrl}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify(simpleMessage()),
    });
    return res.status === 202 ? true : undefined;
  }, 30_000, 250);
  assert.equal((await fx.get("/readyz", undefined)).status, 200);
  assert.equal(await fx.sendCount(), stored + 2, "only the 202s were stored");
});
