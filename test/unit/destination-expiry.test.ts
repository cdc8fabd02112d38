import { test } from "node:test";
import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { pino } from "pino";
import { DestinationActor } from "../../actors/domain/destination.ts";
import type { Job, SendResult } from "../../actors/domain/job.ts";
import { DEFAULT_POLICY } from "../../actors/policies/builtin.ts";
import { DeliveryMessage } from "../../protocol/index.ts";

/** Scheduling: a job whose expiresAt has passed while it waited in the destination's queue gets no attempt. */
test("a job past its expiresAt is handed to expired, never sent; one still in time is sent", async () => {
  let now = 1_000_000;
  const sent: string[] = [];
  const expired: string[] = [];
  const settled: string[] = [];
  const dest = new DestinationActor("exp.test", [{ host: "127.0.0.1", port: 25, secure: false }], DEFAULT_POLICY, {
    send: async (job): Promise<SendResult> => {
      sent.push(job.message.id);
      return { kind: "delivered", mx: "127.0.0.1", reply: { code: 250, text: "ok" } };
    },
    settle: async (job) => void settled.push(job.message.id),
    postpone: () => undefined,
    expired: (job) => void expired.push(job.message.id),
    retired: () => undefined,
    now: () => now,
    ackWaitMs: 60_000,
    idleMs: 60_000,
    logger: pino({ level: "silent" }),
  });
  const job = (index: number, expiresAt: number): Job => ({
    message: DeliveryMessage.parse({ v: 1, id: `${"0".repeat(26)}-${index}`, requestId: "0".repeat(26), tenant: "acme", tier: "transactional", mailFrom: "a@b.test", rcptTo: `r${index}@exp.test`, payload: { inline: { from: { address: "a@b.test" }, subject: "s", text: "t" } }, createdAt: now, expiresAt }),
    msg: { working: () => undefined, headers: undefined } as unknown as JsMsg,
    partition: 0,
    domain: "exp.test",
    queuedAt: 0,
    touchedAt: 0,
  });
  now += 5000; // the clock moved on while they waited
  dest.offer(job(0, now - 1));
  dest.offer(job(1, now + 60_000));
  for (let waited = 0; sent.length + expired.length < 2 && waited < 2000; waited += 5) await new Promise((r) => setTimeout(r, 5));
  await dest.idle();
  assert.deepEqual(expired, [`${"0".repeat(26)}-0`]);
  assert.deepEqual(sent, [`${"0".repeat(26)}-1`]);
  dest.stop();
});
