import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { errorMessage } from "../../protocol/index.ts";

/**
 * The little of the gateway's HTTP API that `sluice send` needs. 429 and 503 are waited
 * out (the gateway says how long in Retry-After) a few times before giving up; every
 * other error answer is returned to the caller with the gateway's own reason.
 *
 * Every try of one request carries the same Idempotency-Key: a 503 or a dropped connection
 * can come after the gateway stored the mail (its JetStream ack lost in a failover), and
 * only the key makes the retry that same mail rather than a second copy.
 */

export interface GatewayTarget {
  url: string;
  key: string;
}

export type Answer<T> = { ok: true; status: number; body: T } | { ok: false; status: number; code: string; message: string; field?: string };

interface ErrorBody {
  error?: { code?: string; message?: string; field?: string };
}

/** Tries after the first before a temporary failure is the answer (also for `--direct`). */
export const RETRIES = 5;

export async function postJson<T>(target: GatewayTarget, path: string, body: unknown): Promise<Answer<T>> {
  const url = new URL(path, target.url.endsWith("/") ? target.url : `${target.url}/`);
  const payload = JSON.stringify(body);
  const idempotencyKey = `sluice-send-${randomUUID()}`;
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${target.key}`, "idempotency-key": idempotencyKey },
        body: payload,
      });
    } catch (e) {
      if (attempt < RETRIES) {
        await sleep(500 * 2 ** attempt);
        continue;
      }
      const why = errorMessage(e);
      return { ok: false, status: 0, code: "unreachable", message: `cannot reach the gateway at ${target.url}: ${why}` };
    }
    const text = await res.body.text();
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode, body: JSON.parse(text) as T };
    // 409 idempotency_in_progress: an earlier try of this request is still running at the gateway.
    const inProgress = res.statusCode === 409 && text.includes('"idempotency_in_progress"');
    if ((res.statusCode === 429 || res.statusCode === 503 || inProgress) && attempt < RETRIES) {
      const after = Number(res.headers["retry-after"]);
      await sleep(Number.isFinite(after) && after > 0 ? Math.min(after, 30) * 1000 : 1000 * 2 ** attempt);
      continue;
    }
    let parsed: ErrorBody = {};
    try {
      parsed = JSON.parse(text) as ErrorBody;
    } catch {
      // Not JSON (a proxy's error page): the status and the text say enough.
    }
    const e = parsed.error;
    const answer: Answer<T> = {
      ok: false,
      status: res.statusCode,
      code: e?.code ?? `http_${res.statusCode}`,
      message: e?.message ?? (text.slice(0, 200) || `HTTP ${res.statusCode}`),
    };
    if (e?.field !== undefined) answer.field = e.field;
    return answer;
  }
}

/** Where `sluice send` hands requests: the gateway over HTTP, or NATS through the SDK. */
export interface Submitter {
  message(body: unknown): Promise<Answer<{ id: string; recipients: { to: string; id: string }[] }>>;
  batch(body: unknown): Promise<Answer<{ batchId: string; accepted: number }>>;
}

export const gatewaySubmitter = (target: GatewayTarget): Submitter => ({
  message: (body) => postJson(target, "v1/messages", body),
  batch: (body) => postJson(target, "v1/batches", body),
});
