import { createHash } from "node:crypto";
import type { KV } from "@nats-io/kv";
import { z } from "zod";
import { decode, encode, newId } from "../protocol/index.ts";
import { HttpError } from "./http-error.ts";

/**
 * `Idempotency-Key`: the first request with a key claims it in KV `sluice_idempotency`
 * (create = compare-and-set on "absent"; the bucket's TTL is 24 h) and stores its answer
 * when done. A repeat with the same body gets that answer and sends nothing; with another
 * body it gets 409. A concurrent repeat waits for the first to finish. A claim left by a
 * process that died mid-request is taken over after STALE_MS.
 *
 * The claim also fixes the request id. A request that failed part-way (503 after some
 * recipients were stored) is retried under the same id, so the recipient ids — the
 * JetStream msgIDs — repeat and JetStream stores nothing twice.
 *
 * During a NATS leader change a write can be stored while its answer is lost. So a claim
 * whose create "failed" but which reads back with our own request id is ours; and a
 * pending claim written by this process for a request no longer running here (its
 * "failed" update was lost too) is taken over at once instead of after STALE_MS.
 */

const Claim = z.object({
  state: z.enum(["pending", "done", "failed"]),
  requestId: z.string(),
  bodyHash: z.string(),
  at: z.number(),
  /** The gateway process that wrote the claim. */
  owner: z.string().optional(),
  status: z.number().optional(),
  response: z.unknown().optional(),
});
type Claim = z.infer<typeof Claim>;

const STALE_MS = 30_000;
const WAIT_MS = 10_000;
const PROCESS_ID = newId();
/**
 * Request ids this process is claiming or working on, counted: two repeats in this
 * process may try to take over the same failed claim at once, and the loser's release
 * must not clear the winner's mark.
 */
const running = new Map<string, number>();
const hold = (id: string): void => void running.set(id, (running.get(id) ?? 0) + 1);
const release = (id: string): void => {
  const n = (running.get(id) ?? 0) - 1;
  if (n > 0) running.set(id, n);
  else running.delete(id);
};

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/** Key order does not change a body's identity. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

export interface Answer {
  status: number;
  body: unknown;
  replayed: boolean;
}

export async function idempotent(
  kv: KV,
  scope: { tenant: string; route: string },
  idempotencyKey: string | undefined,
  body: unknown,
  work: (requestId: string) => Promise<unknown>,
  status = 202,
): Promise<Answer> {
  if (idempotencyKey === undefined) return { status, body: await work(newId()), replayed: false };
  if (idempotencyKey.length === 0 || idempotencyKey.length > 255 || !/^[\x21-\x7e]+$/.test(idempotencyKey)) {
    throw new HttpError(400, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 printable ASCII characters", "Idempotency-Key");
  }
  const kvKey = `${scope.tenant}.${scope.route}.${sha256(idempotencyKey)}`;
  const bodyHash = sha256(canonical(body));
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    if (Date.now() > deadline) {
      throw new HttpError(409, "idempotency_in_progress", "a request with this Idempotency-Key is still being processed; retry later", "Idempotency-Key", {
        "retry-after": "1",
      });
    }
    const outcome = await claim(kv, kvKey, bodyHash);
    if (outcome.kind === "again") continue;
    if (outcome.kind === "done") return { status: outcome.claim.status ?? status, body: outcome.claim.response, replayed: true };
    return runClaimed(kv, kvKey, outcome.claim, work, status);
  }
}

type ClaimOutcome = { kind: "mine"; claim: Claim } | { kind: "done"; claim: Claim } | { kind: "again" };

/**
 * Try once to hold the key for this request: create it, or take over a claim that failed or
 * was abandoned. "mine": this request holds it (its id is in `running`); "done": an earlier
 * request with this body finished; "again": someone else holds it or won a race — try again.
 */
async function claim(kv: KV, kvKey: string, bodyHash: string): Promise<ClaimOutcome> {
  let mine: Claim = { state: "pending", requestId: newId(), bodyHash, at: Date.now(), owner: PROCESS_ID };
  // Marked running before the write lands, so that a concurrent repeat in this process
  // never takes a claim still on its way for an orphan.
  hold(mine.requestId);
  try {
    await kv.create(kvKey, encode(mine));
    return { kind: "mine", claim: mine };
  } catch {
    // someone holds the key (or NATS failed: the get below tells which)
  }
  let entry;
  try {
    entry = await kv.get(kvKey);
  } finally {
    release(mine.requestId); // held again below if it turns out to be ours
  }
  if (entry === null || entry.operation !== "PUT") return { kind: "again" }; // expired or deleted meanwhile: claim again
  const decoded = decode(Claim, entry.value, "idempotency record");
  const held = decoded.ok ? decoded.value : undefined;
  const orphaned = held?.owner === PROCESS_ID && !running.has(held.requestId);
  const abandoned =
    held !== undefined && held.bodyHash === bodyHash && (held.state === "failed" || (held.state === "pending" && (orphaned || Date.now() - held.at > STALE_MS)));
  if (held !== undefined && held.requestId === mine.requestId) {
    hold(mine.requestId);
    return { kind: "mine", claim: mine }; // our create was stored; only its answer was lost
  }
  if (held === undefined || abandoned) {
    if (held !== undefined) mine = { ...mine, requestId: held.requestId }; // retry under the same ids
    hold(mine.requestId);
    try {
      await kv.update(kvKey, encode(mine), entry.revision);
      return { kind: "mine", claim: mine };
    } catch {
      release(mine.requestId);
      return { kind: "again" }; // another request took it over first
    }
  }
  if (held.bodyHash !== bodyHash) {
    throw new HttpError(409, "idempotency_conflict", "this Idempotency-Key was already used with a different request body", "Idempotency-Key");
  }
  if (held.state === "done") return { kind: "done", claim: held };
  await new Promise((r) => setTimeout(r, 25)); // still running elsewhere: look again shortly
  return { kind: "again" };
}

/** Run the work under a held claim and record its answer (or its failure, so a retry can run). */
async function runClaimed(kv: KV, kvKey: string, mine: Claim, work: (requestId: string) => Promise<unknown>, status: number): Promise<Answer> {
  let response: unknown;
  try {
    response = await work(mine.requestId);
  } catch (e) {
    release(mine.requestId);
    // Not accepted: a retry must be able to run, under the same request id.
    const failed: Claim = { ...mine, state: "failed", at: Date.now() };
    await kv.put(kvKey, encode(failed)).catch(() => undefined); // lost: the pending claim is taken over (orphan rule above), so a retry still runs
    throw e;
  }
  release(mine.requestId);
  const done: Claim = { ...mine, state: "done", at: Date.now(), status, response };
  await kv.put(kvKey, encode(done)).catch(() => undefined); // the mail is stored; a lost record only weakens replay
  return { status, body: response, replayed: false };
}
