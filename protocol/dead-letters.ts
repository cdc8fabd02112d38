import { z } from "zod";
import { RECIPIENT_ID_PATTERN } from "./ids.ts";
import { TENANT_PATTERN, TIERS } from "./subjects.ts";

/** `.r<n>` for the n-th replay of a message, nothing for its first series (ids as before replays existed). */
export const seriesTag = (replay: number | undefined): string => (replay ? `.r${replay}` : "");

/**
 * Tenant of dead letters whose tenant cannot be read from the message: not a valid tenant
 * name (those never start with `_`), so no API caller can see them; `sluice dlq ls --tenant _unknown`.
 */
export const UNKNOWN_TENANT = "_unknown";
/** The id of an unreadable message without a readable recipient id: its MAIL_SEND stream sequence. */
export const UNREADABLE_ID_PATTERN = /^seq-\d{1,20}$/;

/**
 * A MAIL_SEND message the node cannot read (not JSON, or not a DeliveryMessage), kept as
 * received: it cannot be replayed, but an operator sees what a producer sent and why it failed.
 */
export const InvalidDeadLetter = z
  .object({
    v: z.literal(1),
    id: z.string(),
    tenant: z.string(),
    at: z.number().int(),
    reason: z.object({ code: z.literal("invalid"), message: z.string() }).strict(),
    /** The MAIL_SEND subject and stream sequence it was read from. */
    source: z.object({ subject: z.string(), seq: z.number().int().nonnegative() }).strict(),
    raw: z.object({ encoding: z.enum(["utf8", "base64"]), data: z.string(), bytes: z.number().int().nonnegative(), truncated: z.boolean().optional() }).strict(),
  })
  .strict();
export type InvalidDeadLetter = z.infer<typeof InvalidDeadLetter>;

/** Raw bytes kept in a dead letter, at most this many (a dead letter must stay under max_payload). */
const RAW_KEEP_BYTES = 256 * 1024;

/** Bytes as text when they are UTF-8, else base64. */
export function rawOf(data: Uint8Array): InvalidDeadLetter["raw"] {
  const kept = data.subarray(0, RAW_KEEP_BYTES);
  const truncated = kept.length < data.length ? { truncated: true } : {};
  try {
    return { encoding: "utf8", data: new TextDecoder("utf-8", { fatal: true }).decode(kept), bytes: data.length, ...truncated };
  } catch {
    return { encoding: "base64", data: Buffer.from(kept).toString("base64"), bytes: data.length, ...truncated };
  }
}

/**
 * Whose message it was, read as far as the bytes allow: from the JSON when it parses, else
 * by pattern from the text (a truncated or mangled JSON document still names its tenant and id).
 */
export function recoverIdentity(data: Uint8Array): {
  tenant?: string;
  id?: string;
  requestId?: string;
  batchId?: string;
  rcptTo?: string;
  tier?: (typeof TIERS)[number];
  replay?: number;
} {
  const text = Buffer.from(data).toString("utf8");
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) fields = parsed as Record<string, unknown>;
  } catch {
    for (const name of ["tenant", "id", "requestId", "batchId", "rcptTo", "tier"]) {
      const m = new RegExp(`"${name}"\\s*:\\s*"([^"\\\\]{1,320})"`).exec(text);
      if (m) fields[name] = m[1];
    }
  }
  const str = (v: unknown, ok: (s: string) => boolean): string | undefined => (typeof v === "string" && ok(v) ? v : undefined);
  const out: ReturnType<typeof recoverIdentity> = {};
  const tenant = str(fields.tenant, (s) => TENANT_PATTERN.test(s));
  const id = str(fields.id, (s) => RECIPIENT_ID_PATTERN.test(s));
  const requestId = id !== undefined ? str(fields.requestId, (s) => /^[0-9a-z]{26}$/.test(s)) : undefined;
  const batchId = id !== undefined ? str(fields.batchId, (s) => /^[0-9a-z]{26}$/.test(s)) : undefined;
  const rcptTo = str(fields.rcptTo, (s) => s.length <= 320 && !/[\x00-\x1f\x7f]/.test(s));
  const tier = TIERS.find((t) => t === fields.tier);
  if (tenant !== undefined) out.tenant = tenant;
  if (id !== undefined) out.id = id;
  if (requestId !== undefined) out.requestId = requestId;
  if (batchId !== undefined) out.batchId = batchId;
  if (rcptTo !== undefined) out.rcptTo = rcptTo;
  if (tier !== undefined) out.tier = tier;
  if (typeof fields.replay === "number" && Number.isInteger(fields.replay) && fields.replay > 0) out.replay = fields.replay;
  return out;
}
