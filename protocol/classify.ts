/**
 * SMTP reply → outcome and category.
 *
 * The basic code (2xx/4xx/5xx) and the RFC 3463 enhanced code are where a reply starts, but
 * big receivers do not always mean what their codes say: Microsoft answers 5.2.122 for "this
 * recipient gets too much mail this hour" (a rate limit, retry), Gmail answers 550 5.7.1 for
 * "daily relay limit exceeded" (a quota, retry), Yahoo answers 421 4.7.1 for "permanently
 * deferred; retrying will NOT succeed" (permanent), and a 552 from Yahoo means "mailbox not
 * found", not "message too large". So the wording is read first and the codes decide only
 * what the wording leaves open. Every rule below has rows in test/unit/classify.test.ts.
 */
export type Outcome = "delivered" | "retry" | "bounce";

export const CATEGORIES = [
  "delivered",
  "unknown_user",
  "mailbox_full",
  "domain_not_found",
  "policy_block",
  "spam_block",
  "throttled",
  "tls_required",
  "message_too_large",
  /** A non-ASCII local part to a server that does not offer SMTPUTF8 (RFC 6531): never sent. */
  "smtputf8_unsupported",
  "network",
  "protocol",
  "other",
] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Classification {
  outcome: Outcome;
  category: Category;
  /** The destination asked us to slow down: cut its rate and connections (multiplicative decrease). */
  throttle: boolean;
}

export interface ReplyLike {
  code: number;
  enhanced?: string;
  text: string;
}

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})\b/;
/** `550-5.1.1 ` or `550 ` at the start of a reply line (multi-line replies repeat it). */
const LINE_PREFIX = /^\s*([2-5]\d\d)[ -]/;

/** Pull the RFC 3463 enhanced status code (`4.7.0`) from the start of a reply text, with or without the basic code before it. */
export function enhancedCodeOf(text: string): string | undefined {
  const rest = text.replace(LINE_PREFIX, "").trimStart();
  return ENHANCED.exec(rest)?.[1];
}

/**
 * A raw reply as an SMTP client reports it (`"550-5.1.1 The email account ...\n550 5.1.1 ..."`,
 * nodemailer's `err.response`) → code, enhanced code and the text without the line prefixes
 * (the enhanced code is a field of its own, not repeated in the text). The one parser of
 * SMTP replies: the sender uses it for every reply it records, the classification table
 * tests use it for theirs. `fallbackCode` is the code when the text carries none.
 */
export function parseSmtpReply(raw: string, fallbackCode = 0): ReplyLike {
  const lines = raw.split(/\r?\n/).filter((l) => l.trim() !== "");
  const code = Number(LINE_PREFIX.exec(lines[0] ?? "")?.[1] ?? fallbackCode);
  const enhanced = enhancedCodeOf(lines[0] ?? "");
  const text = lines
    .map((l) => {
      let t = l.replace(LINE_PREFIX, "").trimStart();
      if (enhanced !== undefined && t.startsWith(enhanced)) t = t.slice(enhanced.length);
      return t.trim();
    })
    .join(" ")
    .trim()
    .slice(0, 1000);
  return enhanced === undefined ? { code, text } : { code, enhanced, text };
}

/**
 * What the wording says, in order: the first rule that matches names the category. `retry`
 * and `bounce` force the outcome against the basic code; otherwise the basic code decides.
 */
interface WordingRule {
  category: Category;
  pattern: RegExp;
  /** Force the outcome whatever the basic code says. */
  outcome?: Outcome;
  /** A limit on the sender or its IP (not on one recipient): slow the whole destination down. */
  throttle?: boolean;
  /** The rule holds for 4xx replies only (the same words in a 5xx mean something else). */
  temporaryOnly?: boolean;
}

const RULES: readonly WordingRule[] = [
  // Yahoo TS03/TSS09: a 4xx that says in words it is permanent.
  { category: "spam_block", pattern: /permanently deferred|retrying will not succeed/i, outcome: "bounce" },
  // A verification of OUR sender address failed: about the sender, never the recipient.
  { category: "policy_block", pattern: /sender verify|verification failed for|sender address rejected/i },
  // Limits on the recipient's intake: retry later, the destination as a whole is fine.
  {
    category: "throttled",
    outcome: "retry",
    pattern:
      /receiving mail (too quickly|at a rate)|limit for the number of messages they can receive|per-hour message receive limit|recipient.{0,40}(rate|limit).{0,20}exceeded/i,
  },
  // Gmail 4.7.28 "unusual rate of (unsolicited) mail": slow down (the 5.7.1 form is a block).
  { category: "throttled", outcome: "retry", throttle: true, temporaryOnly: true, pattern: /unusual rate/i },
  // Limits on the sender, its account or its IP, whatever code they come with.
  {
    category: "throttled",
    outcome: "retry",
    throttle: true,
    pattern: new RegExp(
      [
        "rate[- ]?limit",
        "too many (connections|sessions|concurrent|messages|errors|recipients|mails|emails|smtp)",
        "too much mail", // Postfix anvil: smtpd_client_message_rate_limit
        "\\[TSS?04\\]", // Yahoo: deferred for volume or complaints
        "(sending|relay|submission|daily|hourly|message|email) (limit|quota)( has been| was)? exceeded",
        "exceeded (the |their |your )?(hourly|daily|sending|message|rate)",
        "reached your daily limit",
        "limits for how many messages",
        "SubmissionQuotaExceeded",
        "email quota exceeded",
        "temporarily deferred due to (unexpected volume|user complaints)",
        "deferred due to user complaints",
        "server busy",
        "throttl",
        "slow down",
        "connection limit",
      ].join("|"),
      "i",
    ),
  },
  {
    category: "mailbox_full",
    pattern:
      /over quota|mailbox (is )?full|mailbox quota|quota exceeded \(mailbox|QuotaExceededException|exceeded storage allocation|user is over quota|mailbox has exceeded|out of storage space|inbox is full/i,
  },
  {
    category: "domain_not_found",
    pattern: /domain not found|no such domain|domain (name )?does not exist|find the recipient domain|host (or domain name )?not found|unroutable domain|domain [\w.-]+ does not exist|DomainNonexistent|null MX/i,
  },
  {
    category: "unknown_user",
    // A 4xx saying the account does not exist is believed too (retrying it for 72 h hurts the
    // sender's reputation), unless it also says the lookup itself failed temporarily.
    outcome: "bounce",
    pattern: new RegExp(
      [
        "user unknown",
        "unknown user",
        "no such user",
        "does not exist",
        "doesn'?t have an? [\\w.-]+ account",
        "recipient not found",
        "RecipientNotFound",
        "mailbox (not found|unavailable|disabled|does not exist)",
        "mailbox is disabled",
        "account (has been |is )?(disabled|discontinued|deactivated|inactive)",
        "is disabled",
        "invalid recipient",
        "invalid mailbox",
        "not our customer",
        "unrouteable address",
        "no mailbox here",
        "address rejected: access denied\\. AS\\(", // Microsoft directory-based edge blocking
        "recipient address rejected: user unknown",
        "address unknown",
        "unknown recipient",
        "bad destination mailbox",
      ].join("|"),
      "i",
    ),
  },
  {
    category: "tls_required",
    pattern: /starttls|tls (is )?required|must use tls|requires? (a )?(secure|encrypted) connection|encryption required|tls not available/i,
  },
  {
    category: "message_too_large",
    pattern: /message (size )?(exceeds|too (large|big))|size (limit|exceeds)|exceeded .{0,20}message size|message size limit|too large|message is too big/i,
  },
  {
    category: "spam_block",
    pattern: new RegExp(
      [
        "spam",
        "unsolicited",
        "block ?list",
        "black ?list",
        "blocklisted",
        "blacklisted",
        "in a black list",
        "dnsbl",
        "\\brbl\\b",
        "blocked using",
        "reputation",
        "banned (sending|sender)",
        "ipcheck\\.proofpoint",
        "dnsbl-lookup",
        "content restrictions",
        "security issue",
        "junk",
        "not accepted from this ip",
        "\\[BL\\d+\\]",
        "sender blocked",
        "traffic not accepted",
      ].join("|"),
      "i",
    ),
  },
  // "Not now" for a reason of theirs (greylisting, a local fault): retry, but no need to slow down.
  { category: "other", pattern: /greylist|graylist|temporarily rejected|temporar(il)?y (unavailable|local problem|system problem)|temporary (local|system) problem|shutting down/i },
  // Conformance problems of the message or the dialogue: ours to fix, not the recipient's.
  {
    category: "protocol",
    pattern: /command not recognized|syntax error|malformed|bad sequence|fully-qualified|line too long|missing a valid [\w-]+ header|RFC ?5322|unrecognized command|invalid (header|command)/i,
  },
  {
    category: "policy_block",
    pattern: new RegExp(
      [
        "polic(y|ies)",
        "relay (access )?(denied|not permitted)",
        "does not relay",
        "not authorized",
        "access denied",
        "prohibit",
        "DMARC",
        "\\bSPF\\b",
        "\\bDKIM\\b",
        "authenticat",
        "PTR",
        "reverse DNS",
        "cannot find your hostname",
        "not accept delivery",
        "not allow",
        "blocked",
        "rejected",
        "refused",
        "denied",
      ].join("|"),
      "i",
    ),
  },
  { category: "network", pattern: /timeout|timed out|lost input connection|connection (lost|reset|dropped)/i },
];

/** What the enhanced code alone says, when the wording said nothing we recognise. */
export function categoryOfEnhanced(enhanced: string): Category | undefined {
  const [, subject, detail] = enhanced.split(".").map(Number);
  if (subject === 1) {
    if (detail === 1 || detail === 0 || detail === 10) return "unknown_user";
    if (detail === 2) return "domain_not_found";
    return "other";
  }
  if (subject === 2) {
    if (detail === 2) return "mailbox_full";
    if (detail === 3) return "message_too_large";
    if (detail === 1) return "unknown_user";
    return "other";
  }
  if (subject === 3) return detail === 4 ? "message_too_large" : "other";
  if (subject === 4) {
    if (detail === 4) return "domain_not_found";
    if (detail === 1 || detail === 2) return "network";
    return "other";
  }
  if (subject === 5) return "protocol";
  if (subject === 6) return "protocol";
  if (subject === 7) {
    if (detail === 10 || detail === 11) return "tls_required";
    return "policy_block";
  }
  return undefined;
}

const DELIVERED: Classification = { outcome: "delivered", category: "delivered", throttle: false };

export function classifyReply(reply: ReplyLike): Classification {
  const { code } = reply;
  if (code >= 200 && code < 300) return DELIVERED;
  const klass = Math.floor(code / 100);
  if (klass !== 4 && klass !== 5) return { outcome: "retry", category: "protocol", throttle: false };
  const enhanced = reply.enhanced ?? enhancedCodeOf(reply.text);
  const text = reply.text;
  const byCode: Outcome = klass === 4 ? "retry" : "bounce";

  for (const rule of RULES) {
    if (rule.temporaryOnly === true && klass !== 4) continue;
    if (!rule.pattern.test(text)) continue;
    let outcome = rule.outcome ?? byCode;
    // A 4xx "no such user" that also says its own check failed temporarily is still a retry.
    if (rule.category === "unknown_user" && klass === 4 && /temporar|try again|unverified/i.test(text)) outcome = "retry";
    return { outcome, category: rule.category, throttle: rule.throttle === true && outcome === "retry" };
  }

  // 4.7.x with no recognised wording and 421 "service not available" are how receivers say
  // "not now": slow down, which is safe even when it was something else.
  if (klass === 4 && (code === 421 || enhanced?.startsWith("4.7."))) return { outcome: "retry", category: "throttled", throttle: true };
  const category = (enhanced !== undefined ? categoryOfEnhanced(enhanced) : undefined) ?? categoryOfBasic(code);
  return { outcome: byCode, category, throttle: false };
}

const CONCURRENCY = /too many (connections|sessions|concurrent|simultaneous)|connection (count )?limit|concurrent connections/i;

/**
 * Which of the destination's limits a throttle reply is about: "connections" when the
 * session itself was refused (a 421 greeting) or the words say so, else the message rate.
 */
export function throttledLimit(reply: ReplyLike | undefined, atGreeting: boolean): "connections" | "rate" {
  return atGreeting || (reply !== undefined && CONCURRENCY.test(reply.text)) ? "connections" : "rate";
}

/** RFC 5321 basic codes, when there is nothing else to go on. */
function categoryOfBasic(code: number): Category {
  switch (code) {
    // 550 alone is also "rejected for policy reasons" (RFC 5321 4.2.3): never guess that an
    // address is dead, because that would suppress it.
    case 551:
    case 553:
      return "unknown_user";
    case 452:
    case 552:
      return "mailbox_full";
    case 500:
    case 501:
    case 502:
    case 503:
    case 504:
    case 555:
      return "protocol";
    case 530:
    case 535:
    case 554:
    case 521:
      return "policy_block";
    default:
      return "other";
  }
}

/**
 * Whether a bounce should put the address on the tenant's suppression list: only when the
 * address itself is bad. A full mailbox, a policy or spam block or a too-large message is
 * about this message or this sender, and the next message may well arrive.
 */
export function suppressesAddress(c: Classification): boolean {
  return c.outcome === "bounce" && (c.category === "unknown_user" || c.category === "domain_not_found");
}

/**
 * A connection-level failure (refused, reset, timeout, DNS temporary failure): retry later.
 * Codes are Node's (`ECONNREFUSED`, `ENOTFOUND`...) and nodemailer's (`ETLS`, `EDNS`...).
 */
export function classifyNetworkError(error: { code?: string; message: string }): Classification {
  const code = error.code ?? "";
  // NXDOMAIN / no MX and no A: the domain cannot receive mail, now or later.
  if (code === "ENOTFOUND" || code === "ENODATA" || code === "ENULLMX" || /null mx|domain does not accept mail/i.test(error.message)) {
    return { outcome: "bounce", category: "domain_not_found", throttle: false };
  }
  if (code === "ETLS" || /\b(tls|ssl|certificate)\b/i.test(error.message)) return { outcome: "retry", category: "tls_required", throttle: false };
  if (code === "EPROTOCOL") return { outcome: "retry", category: "protocol", throttle: false };
  return { outcome: "retry", category: "network", throttle: false };
}
