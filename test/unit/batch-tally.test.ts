import { test } from "node:test";
import assert from "node:assert/strict";
import type { JsMsg } from "@nats-io/jetstream";
import { pino } from "pino";
import { BatchTally } from "../../actors/batch-tally.ts";
import { BatchCounts, decode } from "../../protocol/index.ts";

/** A pulled event as far as the tally uses it: something to ack. */
function event(): JsMsg & { acked: boolean } {
  const m = { acked: false, ack: () => void (m.acked = true) };
  return m as unknown as JsMsg & { acked: boolean };
}

const silent = pino({ level: "silent" });

test("transitions add up per batch; events are acked only after a write that includes them", async () => {
  const written = new Map<string, BatchCounts["counts"]>();
  let release: () => void = () => undefined;
  let gate = new Promise<void>((r) => (release = r));
  const tally = new BatchTally(
    async (key, value) => {
      await gate;
      const d = decode(BatchCounts, value, "counts");
      assert.ok(d.ok);
      written.set(key, d.value.counts);
    },
    "w1",
    silent,
  );
  const a = event();
  const b = event();
  const same = event();
  tally.count("acme", "B1", undefined, "deferred", a);
  tally.count("acme", "B1", "deferred", "delivered", b);
  tally.count("acme", "B1", "delivered", "delivered", same);
  assert.equal(same.acked, true, "no move: acked at once");
  const flushing = tally.flush();
  assert.equal(a.acked || b.acked, false, "not acked before the write");
  release();
  await flushing;
  assert.ok(a.acked && b.acked);
  assert.deepEqual([...written.values()], [{ deferred: 0, delivered: 1 }]);
  assert.match([...written.keys()][0] ?? "", /^acme\.B1\.counts\.w1-\d+$/);

  gate = Promise.resolve();
  const c = event();
  tally.count("acme", "B1", undefined, "bounced", c);
  await tally.close();
  assert.ok(c.acked);
  assert.deepEqual([...written.values()], [{ deferred: 0, delivered: 1, bounced: 1 }], "running totals, one key per batch and writer");
});

test("a failed write acks nothing and is written again with everything since", async () => {
  let fail = true;
  const written: BatchCounts["counts"][] = [];
  const tally = new BatchTally(
    async (_key, value) => {
      if (fail) throw new Error("NATS away");
      const d = decode(BatchCounts, value, "counts");
      if (d.ok) written.push(d.value.counts);
    },
    "w2",
    silent,
  );
  const a = event();
  tally.count("acme", "B2", undefined, "delivered", a);
  await tally.flush();
  assert.equal(a.acked, false);
  fail = false;
  const b = event();
  tally.count("acme", "B2", undefined, "delivered", b);
  await tally.close();
  assert.ok(a.acked && b.acked);
  assert.deepEqual(written.at(-1), { delivered: 2 });
});
