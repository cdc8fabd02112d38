import { validationError, type SluiceError } from "./errors.ts";
import { buildBatchDelivery, type BatchRequest } from "./requests.ts";
import type { BatchJob } from "./schemas/job.ts";

/**
 * A NATS server refuses a message over its `max_payload` (1 MB by default) whatever
 * happens next, so such a message is the request's fault: a 413, never a 503 that a
 * client would retry forever. Checked before anything is published.
 */

/** Room for the message's NATS headers (Nats-Msg-Id, traceparent) and digits that vary. */
export const NATS_HEADER_ROOM = 1024;

export const tooLarge = (what: string, bytes: number, maxPayload: number, field?: string): SluiceError =>
  validationError(
    "message_too_large",
    `${field === undefined ? "" : `${field}: `}${what} would be ${bytes} bytes on NATS, over the ${maxPayload - NATS_HEADER_ROOM} it accepts (max_payload ${maxPayload}); make it smaller`,
    field,
  );

/** Throws message_too_large when `data` (one encoded NATS message) cannot be published. */
export function checkEncodedSize(data: Uint8Array, maxPayload: number | undefined, what: string, field?: string): void {
  if (maxPayload !== undefined && data.length + NATS_HEADER_ROOM > maxPayload) throw tooLarge(what, data.length, maxPayload, field);
}

const utf8Length = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/**
 * Would any of a batch's per-recipient messages (built later by the fan-out actor) be
 * over max_payload? Exact without building them: a recipient's message is the common
 * part plus its address and its `vars`. Names the first recipient that does not fit.
 */
export function checkBatchFits(r: BatchRequest, job: BatchJob, maxPayload: number | undefined): void {
  if (maxPayload === undefined) return;
  const last = r.recipients.length - 1; // the longest recipient id
  const common = buildBatchDelivery(job, { to: "" }, last, 1, job.createdAt, () => "").message;
  const base = utf8Length(common) - 2; // without the `""` of rcptTo
  const limit = maxPayload - NATS_HEADER_ROOM;
  if (base + 2 > limit) throw tooLarge("each recipient's message (tags, metadata)", base + 2, maxPayload, "metadata");
  const varsKey = utf8Length("vars") + 2; // ,"vars":
  for (let i = 0; i < r.recipients.length; i++) {
    const rcpt = r.recipients[i];
    if (rcpt === undefined) continue;
    // A bound without encoding first (a UTF-16 unit is at most 6 bytes of JSON, as \uXXXX):
    // JSON.stringify of 100,000 recipients' vars would hold the event loop for ~100 ms.
    if (base + varsKey + upperBound(rcpt.to, rcpt.vars) <= limit) continue;
    const size = base + utf8Length(rcpt.to) + (rcpt.vars === undefined ? 0 : varsKey + utf8Length(rcpt.vars));
    if (size > limit) throw tooLarge(`the message for recipient ${i}`, size, maxPayload, rcpt.vars === undefined ? `recipients.${i}` : `recipients.${i}.vars`);
  }
}

function upperBound(to: string, vars: Record<string, string> | undefined): number {
  let bound = 6 * to.length + 2 + 2; // "to" and {}
  if (vars !== undefined) for (const k in vars) bound += 6 * (k.length + (vars[k]?.length ?? 0)) + 6; // "k":"v",
  return bound;
}
