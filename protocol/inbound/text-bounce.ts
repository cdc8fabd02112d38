import { judge } from "./judge.ts";
import { recipientRecord, type InboundRecipient } from "./report.ts";

/**
 * Bounces without a `message/delivery-status` part: the notices of Exim ("This message was
 * created automatically by mail delivery software"), qmail ("Hi. This is the qmail-send
 * program"), old Exchange ("did not reach the following recipient(s)"), Gmail's plain-text
 * "Delivery to the following recipient failed permanently", Yahoo's "Sorry, we were unable to
 * deliver your message", and the like. The recipients and their reasons are read from the
 * human text: each failed address, and the lines after it up to the next address or blank line.
 */
const SUBJECT = /undeliver|delivery (status notification|failure|has failed|failed|problem)|mail delivery failed|failure notice|returned mail|returning message to sender|could not be delivered|non[- ]?delivery|nicht zustellbar|unzustellbar|\bNDR\b|mail system error|delivery notification/i;
const SENDER = /^(mailer-daemon|post_?master|mail-daemon|mail\.?delivery|bounces?|nobody)@/i;
/** An SMTP error reply quoted in the text: with a postmaster-like sender, a bounce whatever its subject. */
const SMTP_ERROR = /(^|\s)[45]\d\d[ -]+(#?[45]\.\d{1,3}\.\d{1,3}\s+)?[A-Za-z<]/m;
const MARKERS = [
  /This message was created automatically by mail delivery software/i, // Exim
  /This is the qmail-send program/i, // qmail
  /did not reach the following recipient/i, // Exchange 2003
  /Delivery has failed to these recipients/i, // Exchange 2007+
  /Your message (to .{1,200} )?couldn't be delivered/i, // Office 365
  /Delivery to the following recipients? failed/i, // Gmail
  /wasn't delivered to .{1,200} because/i, // Gmail, Google Workspace
  /Sorry, we were unable to deliver your message/i, // Yahoo
  /could not be delivered to one or more (of its )?recipients/i, // Postfix and others
  /The following (message to|addresses? had) .{0,100}(undeliverable|permanent fatal errors)/i, // Amazon SES, sendmail
  /I'm afraid I wasn't able to deliver/i,
];
/** Where the notice ends and the returned message begins. */
const RETURNED = /^(-{2,}.*(copy of the message|original message|below this line|returned message|message header).*|Original message headers:|Original message follows\.?|-{3,} ?Original message ?-{3,})\s*$/im;
/** The address is the SMTP recipient itself ("RCPT TO: <address>" in a transcript or summary). */
const RCPT_LINE = /RCPT TO:\s*<?$/i;
const ADDRESS = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+/g;
const FAILURE_WORDS = /\b[45]\d\d\b|[45]\.\d{1,3}\.\d{1,3}|unknown|not (found|exist|recognized)|doesn't exist|does not exist|no such|rejected|refused|disabled|full|quota|denied|invalid|failed|permanent|unavailable|couldn't be found|too large|expired|timed out|blocked|spam|not listed|retr(y|ied)|delayed/i;
const TEMPORARY = /temporar|delayed|will (be )?retr|still (be )?trying|will try|has not yet been delivered|not yet been delivered/i;

export function looksLikeBounce(o: { from: string | undefined; subject: string | undefined; text: string }): boolean {
  if (MARKERS.some((m) => m.test(o.text))) return true;
  return o.from !== undefined && SENDER.test(o.from) && (SUBJECT.test(o.subject ?? "") || SMTP_ERROR.test(noticeText(o.text)));
}

/** The notice's own text, without the returned message. */
export function noticeText(text: string): string {
  const m = RETURNED.exec(text);
  return m === null ? text : text.slice(0, m.index);
}

/**
 * One record per failed address the notice names. `listed` are the addresses the bounce's
 * headers name as failed (X-Failed-Recipients); `ignore` are addresses that are never the
 * failed recipient (the notice's own From and To).
 */
export function textRecipients(text: string, listed: readonly string[], ignore: readonly string[]): InboundRecipient[] {
  const notice = noticeText(text);
  const skip = new Set(ignore.map((a) => a.toLowerCase()));
  const found = new Map<string, number>();
  for (const m of notice.matchAll(ADDRESS)) {
    const a = m[0].replace(/\.$/, "").toLowerCase();
    if (skip.has(a) || found.has(a)) continue;
    found.set(a, m.index);
  }
  const wanted = listed.length > 0 ? listed.map((a) => a.toLowerCase()) : [...found.keys()];
  const starts = [...found.values()].sort((a, b) => a - b);
  const out: InboundRecipient[] = [];
  for (const address of wanted) {
    const at = found.get(address);
    let block = at === undefined ? "" : blockAfter(notice, at, starts);
    if (at !== undefined && RCPT_LINE.test(lineBefore(notice, at))) block = notice;
    // A block that says nothing about a failure is an address mentioned in passing (a To: summary line).
    if (!FAILURE_WORDS.test(block.replace(address, ""))) {
      // A listed recipient (X-Failed-Recipients), or the only address the notice names, whose
      // reason is elsewhere in it (Gmail, Domino: "was not delivered to: <address> because: ...").
      if (listed.length === 0 && found.size > 1) continue;
      block = notice;
    }
    const diagnostic = diagnosticOf(block);
    const action = TEMPORARY.test(block) && !/permanent/i.test(block) ? "delayed" : "failed";
    const j = judge({ action, diagnostic });
    out.push(recipientRecord({ address, action, diagnostic, outcome: j.outcome, category: j.category }));
  }
  return out;
}

const lineBefore = (text: string, at: number): string => text.slice(text.lastIndexOf("\n", at - 1) + 1, at);

/**
 * From the start of the address's line ("Unknown user: ann@…" puts the reason first) to the
 * next blank line or the next address that starts a line.
 */
function blockAfter(text: string, at: number, starts: number[]): string {
  const nextAddress = starts.find((s) => s > at && /\n\s*<?$/.test(text.slice(Math.max(at, s - 40), s)));
  const blank = /\n[ \t]*\n(?=\S)/g;
  blank.lastIndex = at;
  // The reason may start after one blank line (Gmail: the address, a blank line, "Technical details...").
  let end = text.length;
  const first = blank.exec(text);
  if (first !== null) {
    end = first.index;
    if (!FAILURE_WORDS.test(text.slice(at, end).replace(/\S+@\S+/, ""))) {
      const second = blank.exec(text);
      end = second === null ? text.length : second.index;
    }
  }
  return text.slice(text.lastIndexOf("\n", at - 1) + 1, Math.min(end, nextAddress ?? text.length)).trim();
}

/** The remote server's words: from the first SMTP reply code in the block, else the block itself. */
function diagnosticOf(block: string): string {
  const oneLine = block.replace(/\s+/g, " ").trim();
  const reply = /\b[45]\d\d[ -](?:#?[45]\.\d{1,3}\.\d{1,3}\b)?.*$/.exec(oneLine);
  return (reply?.[0] ?? oneLine).slice(0, 1000);
}
