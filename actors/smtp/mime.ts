import { randomBytes } from "node:crypto";
import MailComposer from "nodemailer/lib/mail-composer";
import type { DeliveryMessage, Payload } from "../../protocol/index.ts";
import { vouchCrlf } from "./dot-stuff.ts";
import { aLabelAddress } from "./envelope.ts";

/**
 * MIME is built once per payload and reused for every recipient: only Message-ID, Date,
 * To (when the payload names no visible recipients) and (for bulk) List-Unsubscribe
 * differ, and those are spliced into the header block. A payload with `{{var}}`
 * placeholders is built per recipient, with its values filled.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]{1,64})\s*\}\}/g;
const TEMPLATE_ID = "sluice-template-message-id@sluice.invalid";
const TEMPLATE_DATE = new Date(0);

// Message-IDs: recipient id + a per-process random prefix + a counter. Unique without a
// random draw per message (randomUUID showed up at ~5% of the node's CPU in bench/deliver).
const BOOT = randomBytes(4).toString("hex");
let sequence = 0;

export interface MimeTemplate {
  /** Header block without Message-ID and Date, ending in CRLF. */
  headers: string;
  body: Buffer;
  /** The payload has its own To header (a batch payload has none: each recipient gets one). */
  hasTo: boolean;
  /** The client set List-Unsubscribe itself: Sluice adds none. */
  hasListUnsubscribe: boolean;
  /**
   * A template built for one recipient (template.ts fill) has its headers and body in one
   * buffer, `bytes` from `at` on, with free room before them: render() writes the per-recipient
   * lines there, once, instead of copying the message (100 KB) behind them.
   */
  spare?: { bytes: Buffer; at: number } | undefined;
}

export const usesVariables = (p: Payload): boolean =>
  [p.subject, p.text ?? "", p.html ?? ""].some((s) => {
    PLACEHOLDER.lastIndex = 0;
    return PLACEHOLDER.test(s);
  });

export function substitute(text: string, vars: Record<string, string>, escape: (s: string) => string = (s) => s): string {
  return text.replace(PLACEHOLDER, (_m, name: string) => escape(vars[name] ?? ""));
}

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// A variable must never break out of the Subject header (header injection through vars).
export const headerSafe = (s: string): string => s.replace(/[\r\n\x00-\x08\x0b-\x1f\x7f]+/g, " ");

export function personalise(p: Payload, vars: Record<string, string>): Payload {
  const out: Payload = { ...p, subject: substitute(p.subject, vars, headerSafe) };
  if (p.text !== undefined) out.text = substitute(p.text, vars);
  if (p.html !== undefined) out.html = substitute(p.html, vars, escapeHtml);
  return out;
}

export async function buildTemplate(p: Payload): Promise<MimeTemplate> {
  const composer = new MailComposer({
    from: p.from,
    ...(p.replyTo ? { replyTo: p.replyTo } : {}),
    ...(p.to ? { to: p.to } : {}),
    ...(p.cc ? { cc: p.cc } : {}),
    subject: p.subject,
    ...(p.text !== undefined ? { text: p.text } : {}),
    ...(p.html !== undefined ? { html: p.html } : {}),
    ...(p.headers ? { headers: p.headers } : {}),
    attachments: (p.attachments ?? []).map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.contentBase64, encoding: "base64" })),
    messageId: `<${TEMPLATE_ID}>`,
    date: TEMPLATE_DATE,
  });
  const raw = await composer.compile().build();
  const split = raw.indexOf("\r\n\r\n");
  const head = raw.subarray(0, split + 2).toString("latin1");
  const clientUnsubscribe = headerOf(p, "list-unsubscribe");
  // RFC 8058: List-Unsubscribe-Post means "POST to the https URI for one click"; without an
  // https URI in List-Unsubscribe it is a broken pair that providers count against the sender.
  const keepPost = clientUnsubscribe !== undefined && /<https:\/\/[^>]+>/i.test(clientUnsubscribe);
  const lines = head.split(/\r\n(?![ \t])/).filter((line) => line !== "" && !/^(Message-ID|Date):/i.test(line) && (keepPost || !/^List-Unsubscribe-Post:/i.test(line)));
  return {
    headers: lines.map((line) => line + "\r\n").join(""),
    body: crlfBody(raw.subarray(split + 2)),
    hasTo: lines.some((line) => /^To:/i.test(line)),
    hasListUnsubscribe: clientUnsubscribe !== undefined,
  };
}

/** Bare CR and LF as CRLF, the one line ending SMTP carries (nodemailer's DataStream rule). */
export const crlf = (s: string): string => s.replace(/\r\n|\r|\n/g, "\r\n");

/**
 * MailComposer keeps a text's own line ends, and the SMTP layer used to turn bare LFs into
 * CRLF for every message it sent; done here once per template, the bytes of every recipient
 * are already what goes on the wire.
 */
function crlfBody(body: Buffer): Buffer {
  const s = body.toString("latin1");
  return /\r(?!\n)|(?<!\r)\n/.test(s) ? Buffer.from(crlf(s), "latin1") : body;
}

const headerOf = (p: Payload, name: string): string | undefined => Object.entries(p.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];

export interface PerRecipient {
  messageIdDomain: string;
  listUnsubscribe: string | undefined;
  /** A mailto: List-Unsubscribe URI beside the https one (RFC 2369), for clients that only mail. */
  listUnsubscribeMailto?: string | undefined;
  /** Feedback-ID value (bulk mail): ties a provider's feedback-loop report to the tenant and campaign. */
  feedbackId?: string | undefined;
  now: number;
}

/**
 * The header fields a DKIM signature covers: nodemailer's defaults (RFC 6376 5.4 plus
 * List-Unsubscribe and List-Unsubscribe-Post, which RFC 8058 requires to be signed for one
 * click) and Feedback-ID, which Gmail's feedback loop trusts only when signed.
 */
export const SIGNED_HEADER_FIELDS =
  "From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:Content-Type:Content-Transfer-Encoding:Content-ID:" +
  "Content-Description:Resent-Date:Resent-From:Resent-Sender:Resent-To:Resent-Cc:Resent-Message-ID:In-Reply-To:References:" +
  "List-Id:List-Help:List-Unsubscribe:List-Unsubscribe-Post:List-Subscribe:List-Post:List-Owner:List-Archive:Feedback-ID";

const FEEDBACK_FIELD = /[^A-Za-z0-9._-]+/g;

/** `<tag or batch>:<tenant>:sluice` (Gmail's Feedback-ID: identifiers without colons, the sender's id last). */
export function feedbackIdOf(m: DeliveryMessage): string {
  const campaign = (m.tags?.[0] ?? m.batchId ?? m.requestId).replace(FEEDBACK_FIELD, "-").slice(0, 64) || "mail";
  return `${campaign}:${m.tenant}:sluice`;
}

/** The final bytes for one recipient: per-recipient headers + the shared template. */
export function render(t: MimeTemplate, message: DeliveryMessage, o: PerRecipient): Buffer {
  let extra = `Message-ID: <${message.id}.${BOOT}${(sequence++ & 0xffffff).toString(36)}@${o.messageIdDomain}>\r\nDate: ${new Date(o.now).toUTCString().replace("GMT", "+0000")}\r\n`;
  // RFC 5322 lets To be absent, but mail without it is scored as spam and confuses readers.
  if (!t.hasTo) extra += `To: ${headerAddress(message.rcptTo)}\r\n`;
  const unsubscribe = [o.listUnsubscribe, o.listUnsubscribeMailto].filter((u): u is string => u !== undefined);
  if (message.tier === "bulk" && unsubscribe.length > 0 && !t.hasListUnsubscribe) {
    extra += `List-Unsubscribe: ${unsubscribe.map((u) => `<${u}>`).join(", ")}\r\n`;
    if (o.listUnsubscribe !== undefined && /^https:/i.test(o.listUnsubscribe)) extra += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
  }
  if (message.tier === "bulk" && o.feedbackId !== undefined && !/^Feedback-ID:/im.test(t.headers)) extra += `Feedback-ID: ${o.feedbackId}\r\n`;
  // The added lines are ASCII except a UTF-8 local part in To (sent only with SMTPUTF8, RFC 6532).
  const extraBytes = Buffer.byteLength(extra, "utf8");
  const bodyAt = extraBytes + t.headers.length;
  // Every template's body has CRLF line ends only (crlfBody, fill): the SMTP layer need not check it.
  const spare = t.spare;
  if (spare !== undefined && extraBytes <= spare.at) {
    t.spare = undefined; // the room before the headers is used once
    spare.bytes.write(extra, spare.at - extraBytes, "utf8");
    return vouchCrlf(spare.bytes.subarray(spare.at - extraBytes), bodyAt);
  }
  return vouchCrlf(Buffer.concat([Buffer.from(extra, "utf8"), Buffer.from(t.headers, "latin1"), t.body]), bodyAt);
}

/** An address for a header: the domain as an A-label, the local part as it is. */
function headerAddress(address: string): string {
  return aLabelAddress(address)?.address ?? address;
}

/**
 * The List-Unsubscribe target of one message: the operator's URL template
 * (SLUICE_LIST_UNSUBSCRIBE), else none. Sluice used to put `mailto:<envelope sender>` here,
 * but that is the bounce address, not an unsubscribe handler: a List-Unsubscribe that does
 * not unsubscribe is worse than none. A client that has a real address sets the header itself.
 */
export function listUnsubscribeFor(template: string | undefined, message: DeliveryMessage): string | undefined {
  return template?.replaceAll("{{id}}", encodeURIComponent(message.id));
}
