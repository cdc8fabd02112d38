import PostalMime from "postal-mime";
import type { Attachment, Email } from "postal-mime";
import { addressField, diagnosticField, field, parseFieldGroups, statusField, type Fields } from "./dsn-fields.ts";
import { isAutoReply } from "./autoreply.ts";
import { judge } from "./judge.ts";
import { recipientRecord, type InboundRecipient, type InboundReport, type ParsedInbound } from "./report.ts";
import { looksLikeBounce, textRecipients } from "./text-bounce.ts";
import { parseVerp } from "./verp.ts";

/**
 * An inbound message → what it reports (pure: no I/O, no clock). In order: a feedback report
 * (RFC 5965 ARF), a delivery status notification (RFC 3464), a bounce in one of the common
 * non-RFC formats, an automatic reply (RFC 3834), else `unknown`. `envelopeTo` are the
 * addresses the message was sent to (RCPT TO at our inbound server): the VERP address is there.
 */
export interface ParseOptions {
  envelopeTo?: readonly string[];
}

const REPORT_TYPES = { dsn: /^message\/(global-)?delivery-status$/i, arf: /^message\/feedback-report$/i };
const COMPLAINT_TYPES = /^(abuse|fraud|virus|other|complaint|opt-out)$/i;
/** Our Message-IDs are `<recipient id>.<process><counter>@<domain>` (actors/smtp/mime.ts). */
const OUR_MESSAGE_ID = /<([0-9a-z]{26}-\d{1,7})\.[0-9a-z]+@/;
const VERP_ANYWHERE = /\bb-[0-9a-z]{26}-\d{1,7}-(?:[a-z0-9][a-z0-9_-]{0,62}-)?[0-9a-z]{16}@[a-z0-9.-]+[a-z0-9]/gi;

export async function parseInbound(raw: Uint8Array | string, o: ParseOptions = {}): Promise<ParsedInbound> {
  const email = await PostalMime.parse(raw, { rfc822Attachments: true, attachmentEncoding: "arraybuffer" });
  const rawText = typeof raw === "string" ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("latin1");
  const report = classify(email);
  const verpAddresses = [...new Set([...(o.envelopeTo ?? []).filter((a) => parseVerp(a) !== undefined), ...[...rawText.matchAll(VERP_ANYWHERE)].map((m) => m[0])].map((a) => a.toLowerCase()))];
  const recipientId = (verpAddresses.length > 0 ? parseVerp(verpAddresses[0] as string)?.recipientId : undefined) ?? OUR_MESSAGE_ID.exec(rawText)?.[1];
  const out: ParsedInbound = { report: recipientId === undefined ? report : { ...report, recipientId }, verpAddresses };
  const from = mailbox(email.from);
  if (report.kind === "unknown" && from !== undefined && /^\s*unsubscribe\b/i.test(email.subject ?? "")) out.unsubscribeFrom = from;
  return out;
}

function classify(email: Email): InboundReport {
  const get = (name: string): string | undefined => email.headers.find((h) => h.key === name)?.value;
  const arf = email.attachments.find((a) => REPORT_TYPES.arf.test(a.mimeType));
  if (arf !== undefined) return feedbackReport(email, arf);
  const text = bodyText(email);
  const dsn = email.attachments.find((a) => REPORT_TYPES.dsn.test(a.mimeType));
  if (dsn !== undefined) {
    const recipients = dsnRecipients(contentText(dsn), text);
    if (recipients.length > 0) return { kind: "dsn", recipients };
  }
  const from = mailbox(email.from);
  if (dsn !== undefined || looksLikeBounce({ from, subject: email.subject, text })) {
    const listed = (get("x-failed-recipients") ?? "").split(",").map((a) => a.trim()).filter((a) => a.includes("@"));
    const ignore = [from, ...(email.to ?? []).map((a) => mailbox(a))].filter((a): a is string => a !== undefined);
    return { kind: "dsn", recipients: textRecipients(text, listed, ignore) };
  }
  if (isAutoReply(get, email.subject)) {
    return { kind: "autoreply", recipients: [recipientRecord({ address: from ?? "", diagnostic: email.subject, outcome: "autoreply", category: "autoreply" })] };
  }
  return { kind: "unknown", recipients: [] };
}

function dsnRecipients(status: string, notice: string): InboundRecipient[] {
  const out: InboundRecipient[] = [];
  for (const g of parseFieldGroups(status)) {
    const address = addressField(field(g, "final-recipient")) ?? addressField(field(g, "original-recipient"));
    if (address === undefined) continue;
    const action = field(g, "action")?.toLowerCase();
    const status = statusField(field(g, "status"));
    const diagnostic = diagnosticField(field(g, "diagnostic-code")) ?? fromNotice(notice, address);
    const j = judge({ action, status, diagnostic });
    out.push(recipientRecord({ address, action, status, diagnostic, outcome: j.outcome, category: j.category }));
  }
  return out;
}

/** A DSN without a Diagnostic-Code: the notice's words about this address, if it has any. */
function fromNotice(notice: string, address: string): string | undefined {
  return textRecipients(notice, [address], [])[0]?.diagnostic;
}

function feedbackReport(email: Email, part: Attachment): InboundReport {
  const fields = parseFieldGroups(contentText(part)).reduce<Fields>((all, g) => {
    for (const [k, v] of g) all.set(k, [...(all.get(k) ?? []), ...v]);
    return all;
  }, new Map());
  const feedbackType = (field(fields, "feedback-type") ?? "abuse").toLowerCase();
  const original = email.attachments.find((a) => /^(message\/rfc822|text\/rfc822-headers)$/i.test(a.mimeType));
  const rcpts = (fields.get("original-rcpt-to") ?? fields.get("removal-recipient") ?? []).map((v) => addressField(v)).filter((a): a is string => a !== undefined);
  if (rcpts.length === 0 && original !== undefined) {
    const to = headerOf(contentText(original), "to");
    const address = to === undefined ? undefined : /<([^>]+@[^>]+)>|([^\s<>",]+@[^\s<>",]+)/.exec(to);
    if (address) rcpts.push(address[1] ?? address[2] ?? "");
  }
  const complaint = COMPLAINT_TYPES.test(feedbackType);
  const recipients: InboundRecipient[] = complaint ? [...new Set(rcpts)].map((address) => ({ address, action: "complained", outcome: "complaint", category: feedbackType })) : [];
  return { kind: "arf", recipients, feedbackType };
}

/** One header of a raw header block (unfolded); undefined when absent. */
function headerOf(block: string, name: string): string | undefined {
  const head = block.split(/\r?\n\r?\n/, 1)[0] ?? "";
  const m = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, "im").exec(head);
  return m?.[1]?.replace(/\r?\n[ \t]+/g, " ").trim();
}

const contentText = (a: Attachment): string => (typeof a.content === "string" ? a.content : new TextDecoder("utf-8").decode(a.content));

function bodyText(email: Email): string {
  if (email.text !== undefined && email.text.trim() !== "") return email.text;
  return (email.html ?? "").replace(/<br\s*\/?>|<\/p>|<\/tr>|<\/div>/gi, "\n").replace(/<[^>]+>/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function mailbox(a: { address?: string | undefined } | undefined): string | undefined {
  return a?.address === undefined || a.address === "" ? undefined : a.address.toLowerCase();
}
