import { z } from "zod";
import { canonicalAddress, matchingAddress } from "./canonical-address.ts";
import { domainOf } from "./domain.ts";
import { validationError, type SluiceError } from "./errors.ts";
import { eventId } from "./events.ts";
import { recipientId } from "./ids.ts";
import { fnv1a32 } from "./partition.ts";
import { checkAddress, echoValue, HeaderText, Mailbox } from "./schemas/address.ts";
import { StringMap, Tenant, Vars, type DeliveryMessage } from "./schemas/delivery.ts";
import type { MailEvent } from "./schemas/event.ts";
import { BatchRecipient, type BatchJob } from "./schemas/job.ts";
import { HeaderFields } from "./schemas/header-fields.ts";
import { Attachment, type Payload, type PayloadPointer, type PayloadRef } from "./schemas/payload.ts";
import { TIERS, subjects, type TierName } from "./subjects.ts";
import { PACING_FIELDS, TIMING_FIELDS } from "./schedule-request.ts";

/**
 * What a client sends: the HTTP bodies of POST /v1/messages and /v1/batches, and what a
 * direct producer hands the SDK. One schema for both paths, so both validate alike; the
 * builders below turn a validated request into what goes on the streams.
 */

export const MAX_MESSAGE_RECIPIENTS = 50;
export const MAX_BATCH_RECIPIENTS = 100_000;

/** "a@b.c", "Ann <a@b.c>", {address, name} or an array of them → always an array. */
const oneOrMany = (max: number, tooMany = `has more than ${max} addresses`) =>
  z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(Mailbox).min(1, "needs at least one address").max(max, tooMany));
/** Too many recipients is the same answer whichever field holds them: a batch is the way. */
const TOO_MANY = `has more than ${MAX_MESSAGE_RECIPIENTS} recipients; a message takes at most ${MAX_MESSAGE_RECIPIENTS} in to, cc and bcc together: send to more with POST /v1/batches (up to ${MAX_BATCH_RECIPIENTS.toLocaleString("en")}, each with its own vars)`;

const tier = (fallback: TierName) =>
  z.enum(TIERS, { message: `is not a tier (expected ${TIERS.join(", ")})` }).default(fallback);

const Tags = z.array(z.string().min(1).max(64).regex(/^[^\r\n]*$/, "contains CR or LF")).max(20);

const hasBody = (r: { text?: string | undefined; html?: string | undefined }): boolean =>
  (r.text !== undefined && r.text !== "") || (r.html !== undefined && r.html !== "");
const MISSING_BODY = { message: "missing body: give text or html (or both)", path: ["text"] };

export const SendRequest = z
  .object({
    from: Mailbox,
    to: oneOrMany(MAX_MESSAGE_RECIPIENTS, TOO_MANY),
    cc: oneOrMany(MAX_MESSAGE_RECIPIENTS, TOO_MANY).optional(),
    bcc: oneOrMany(MAX_MESSAGE_RECIPIENTS, TOO_MANY).optional(),
    replyTo: oneOrMany(10).optional(),
    subject: HeaderText,
    text: z.string().optional(),
    html: z.string().optional(),
    headers: HeaderFields.optional(),
    attachments: z.array(Attachment).max(100).optional(),
    tier: tier("transactional"),
    tags: Tags.optional(),
    metadata: StringMap.optional(),
    // Scheduling (protocol/schedule-request.ts): sendAt, expiresAt / ttl.
    ...TIMING_FIELDS,
  })
  .strict()
  .refine(hasBody, MISSING_BODY)
  .refine((r) => envelopeRecipients(r).length <= MAX_MESSAGE_RECIPIENTS, {
    message: TOO_MANY,
    path: ["to"],
  });
export type SendRequest = z.output<typeof SendRequest>;
export type SendRequestInput = z.input<typeof SendRequest>;

export const BatchRequest = z
  .object({
    from: Mailbox,
    replyTo: oneOrMany(10).optional(),
    subject: HeaderText,
    text: z.string().optional(),
    html: z.string().optional(),
    headers: HeaderFields.optional(),
    attachments: z.array(Attachment).max(100).optional(),
    recipients: z.array(BatchRecipient).min(1, "needs at least one recipient").max(MAX_BATCH_RECIPIENTS),
    tier: tier("bulk"),
    tags: Tags.optional(),
    metadata: StringMap.optional(),
    // Scheduling (protocol/schedule-request.ts): sendAt, expiresAt / ttl, deliverOver, window.
    ...TIMING_FIELDS,
    ...PACING_FIELDS,
  })
  .strict()
  .refine(hasBody, MISSING_BODY);
export type BatchRequest = z.output<typeof BatchRequest>;
export type BatchRequestInput = z.input<typeof BatchRequest>;

export const RecipientList = z.array(BatchRecipient);

/** 202 answers; the same shape from the gateway and the SDK. */
export interface SendAccepted {
  id: string;
  recipients: { to: string; id: string }[];
}
export interface BatchAccepted {
  batchId: string;
  accepted: number;
}

/**
 * Progress of one batch in KV `sluice_batches` (key = batch id). The gateway writes it
 * before publishing the job; the fan-out actor advances `expanded` as its checkpoint.
 */
export const BatchProgress = z
  .object({
    v: z.literal(1),
    batchId: z.string(),
    tenant: Tenant,
    total: z.number().int().nonnegative(),
    expanded: z.number().int().nonnegative(),
    /** `failed`: some or all recipients could not be expanded (see `reason`); each got a `failed` event. */
    state: z.enum(["queued", "expanding", "expanded", "failed"]),
    /** Recipients that could not be expanded, and why. */
    failed: z.number().int().nonnegative().optional(),
    reason: z.string().optional(),
    /** Recipients that lacked some template variable (filled with ""); see protocol/templates.ts. */
    missingVars: z.number().int().nonnegative().optional(),
    /** The recipient list in the object store: addresses of recipients the status index has not seen yet. */
    recipientsRef: z.string().optional(),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
  })
  .strict();
export type BatchProgress = z.infer<typeof BatchProgress>;

// ---------------------------------------------------------------- validation errors

type Issue = z.core.$ZodIssue;

/** The issue a person should see first: inside a union, the branch that understood the input. */
function innermost(issue: Issue, prefix: PropertyKey[]): { path: PropertyKey[]; issue: Issue } {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const branch = issue.errors.find((b) => b.some((i) => i.code !== "invalid_type")) ?? issue.errors[0] ?? [];
    const first = branch.find((i) => i.code !== "invalid_type") ?? branch[0];
    if (first !== undefined) return innermost(first, path);
  }
  // A bad record key (a header name): its own check says why, not "Invalid key in record".
  if (issue.code === "invalid_key" && issue.issues[0] !== undefined) return innermost(issue.issues[0], path);
  return { path, issue };
}

/** A zod failure as one SluiceError naming the field (dotted path) and why. */
export function requestError(error: z.ZodError, what: string): SluiceError {
  const first = error.issues[0];
  if (first === undefined) return validationError("invalid_request", `${what} is invalid`);
  const { path, issue } = innermost(first, []);
  let field = path.map(String).join(".");
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    field = [...path, issue.keys[0]].map(String).join(".");
    message = "is not a known field";
  } else if (issue.code === "invalid_type" && path.length === 0) {
    message = "must be a JSON object";
  } else if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) {
    message = "is required";
  } else if (issue.code === "invalid_type") {
    message = `must be of type ${issue.expected}`;
  }
  const code = codeOf(message, field);
  return validationError(code, field === "" ? `${what} ${message}` : `${field} ${message}`, field === "" ? undefined : field);
}

/** Stable codes for the problems a client most needs to tell apart; the rest is invalid_request. */
function codeOf(message: string, field: string): string {
  if (message.includes("header injection")) return "header_injection";
  if (message.includes("control character")) return "control_character";
  if (message.includes("lone UTF-16 surrogate")) return "invalid_unicode";
  if (message.includes("reserved header")) return "reserved_header";
  return field === "tier" ? "unknown_tier" : "invalid_request";
}

/**
 * zod reports every bad element: 100,000 bad recipient addresses cost seconds of issues
 * nobody reads. The first bad address is the answer; find it in one cheap pass.
 */
function firstBadRecipientAddress(input: unknown): SluiceError | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const list: unknown = (input as { recipients?: unknown }).recipients;
  if (!Array.isArray(list) || list.length > MAX_BATCH_RECIPIENTS) return undefined;
  for (let i = 0; i < list.length; i++) {
    const to: unknown = typeof list[i] === "object" && list[i] !== null ? (list[i] as { to?: unknown }).to : undefined;
    const problem = typeof to === "string" ? checkAddress(to) : undefined;
    if (problem !== undefined) {
      const field = `recipients.${i}.to`;
      return validationError(codeOf(problem, field), `${field} ${problem}: ${echoValue(String(to))}`, field);
    }
  }
  return undefined;
}

export function parseSendRequest(input: unknown): { ok: true; value: SendRequest } | { ok: false; error: SluiceError } {
  const r = SendRequest.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: requestError(r.error, "request") };
}

export function parseBatchRequest(input: unknown): { ok: true; value: BatchRequest } | { ok: false; error: SluiceError } {
  const bad = firstBadRecipientAddress(input);
  if (bad !== undefined) return { ok: false, error: bad };
  const r = BatchRequest.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: requestError(r.error, "request") };
}

// ---------------------------------------------------------------- builders (pure)

type Mailboxes = { to: Mailbox[]; cc?: Mailbox[] | undefined; bcc?: Mailbox[] | undefined };

/** Envelope recipients of a message: to, cc, bcc, each address once (compared in its matching form), domains canonical. */
export function envelopeRecipients(r: Mailboxes): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const m of [...r.to, ...(r.cc ?? []), ...(r.bcc ?? [])]) {
    const key = matchingAddress(m.address);
    if (seen.has(key)) continue;
    seen.add(key);
    // The envelope carries the canonical domain (what suppressions, routing and events see).
    out.push(canonicalAddress(m.address) ?? m.address);
  }
  return out;
}

/** The content every recipient shares. Bcc is envelope-only: it never appears in the payload. */
export function payloadOfSend(r: SendRequest): Payload {
  return dropUndefined({
    from: r.from,
    replyTo: r.replyTo,
    to: r.to,
    cc: r.cc,
    subject: r.subject,
    text: r.text,
    html: r.html,
    headers: r.headers,
    attachments: r.attachments,
  });
}

export function payloadOfBatch(r: BatchRequest): Payload {
  return dropUndefined({
    from: r.from,
    replyTo: r.replyTo,
    subject: r.subject,
    text: r.text,
    html: r.html,
    headers: r.headers,
    attachments: r.attachments,
  });
}

/** A published message: where it goes and its JetStream msgID (the recipient id). */
export interface Outgoing<T> {
  subject: string;
  msgID: string;
  message: T;
}

export function deliverySubject(tier: TierName, rcptTo: string, partitions: number): string {
  const domain = domainOf(rcptTo);
  if (domain === undefined) throw validationError("invalid_address", `${rcptTo} has no valid domain`);
  // domainOf already gives the canonical form partitionOf would compute again.
  return subjects.send(tier, fnv1a32(domain) % partitions);
}

/**
 * deliverySubject with the domain's canonical form remembered (by the address's raw
 * domain part): a batch sends to the same few domains over and over, and the IDN
 * normalisation is the dearest step of building a recipient's message.
 */
export function deliverySubjects(partitions: number, max = 10_000): (tier: TierName, rcptTo: string) => string {
  const known = new Map<string, number>();
  return (tier, rcptTo) => {
    const raw = rcptTo.slice(rcptTo.lastIndexOf("@") + 1);
    let partition = known.get(raw);
    if (partition === undefined) {
      const domain = domainOf(rcptTo);
      if (domain === undefined) throw validationError("invalid_address", `${rcptTo} has no valid domain`);
      partition = fnv1a32(domain) % partitions;
      if (known.size >= max) known.clear();
      known.set(raw, partition);
    }
    return subjects.send(tier, partition);
  };
}

export interface BuildContext {
  requestId: string;
  tenant: string;
  partitions: number;
  now: number;
  /** Scheduling: not delivered after this instant. */
  expiresAt?: number | undefined;
}

/** One DeliveryMessage per envelope recipient, ids `<requestId>-<index>` in envelope order. */
export function buildDeliveries(r: SendRequest, payload: PayloadPointer, c: BuildContext): Outgoing<DeliveryMessage>[] {
  return envelopeRecipients(r).map((rcptTo, index) => {
    const id = recipientId(c.requestId, index);
    const message: DeliveryMessage = dropUndefined({
      v: 1 as const,
      id,
      requestId: c.requestId,
      tenant: c.tenant,
      tier: r.tier,
      mailFrom: r.from.address,
      rcptTo,
      payload,
      tags: r.tags,
      metadata: r.metadata,
      createdAt: c.now,
      attempts: [],
      expiresAt: c.expiresAt,
    });
    return { subject: deliverySubject(r.tier, rcptTo, c.partitions), msgID: id, message };
  });
}

/** The per-recipient message of batch recipient `index`; the fan-out actor builds these. */
export function buildBatchDelivery(
  job: BatchJob,
  recipient: BatchRecipient,
  index: number,
  partitions: number,
  now: number,
  subjectOf: (tier: TierName, rcptTo: string) => string = (tier, rcptTo) => deliverySubject(tier, rcptTo, partitions),
): Outgoing<DeliveryMessage> {
  const id = recipientId(job.batchId, index);
  const message: DeliveryMessage = dropUndefined({
    v: 1 as const,
    id,
    requestId: job.batchId,
    batchId: job.batchId,
    tenant: job.tenant,
    tier: job.tier,
    mailFrom: job.mailFrom,
    rcptTo: canonicalAddress(recipient.to) ?? recipient.to,
    payload: job.payload,
    vars: recipient.vars,
    tags: job.tags,
    metadata: job.metadata,
    createdAt: now,
    attempts: [],
    expiresAt: job.expiresAt,
  });
  return { subject: subjectOf(job.tier, recipient.to), msgID: id, message };
}

export function buildBatchJob(
  r: BatchRequest,
  payload: PayloadRef,
  recipientsRef: string,
  c: Omit<BuildContext, "partitions"> & { batchId: string; schedule?: BatchJob["schedule"] },
): BatchJob {
  return dropUndefined({
    v: 1 as const,
    batchId: c.batchId,
    tenant: c.tenant,
    tier: r.tier,
    mailFrom: r.from.address,
    payload: { ref: payload.ref, size: payload.size },
    recipients: { ref: recipientsRef, count: r.recipients.length },
    tags: r.tags,
    metadata: r.metadata,
    createdAt: c.now,
    expiresAt: c.expiresAt,
    schedule: c.schedule,
  });
}

/**
 * ONE `accepted` event per request, not one per recipient (a batch of 100,000 would
 * double the publish load). Its messageId is the first recipient's id (`<id>-0`), its
 * `requestId`/`batchId` name the request, and `metadata.recipients` holds the count.
 */
export function acceptedEvent(a: { tenant: string; requestId: string; batchId?: string; tier: TierName; recipients: number; now: number }): MailEvent {
  const messageId = recipientId(a.requestId, 0);
  return dropUndefined({
    v: 1 as const,
    id: eventId(messageId, "accepted"),
    type: "accepted" as const,
    tenant: a.tenant,
    messageId,
    requestId: a.requestId,
    batchId: a.batchId,
    tier: a.tier,
    at: a.now,
    metadata: { recipients: String(a.recipients) },
  });
}

/**
 * JSON drops undefined anyway; dropping it here keeps messages deep-equal across paths.
 * A copy rather than `delete`: a deleted key turns the object into a slow dictionary,
 * which JSON.stringify then walks several times slower (hot path: every message).
 */
function dropUndefined<T extends object>(o: T): T {
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
