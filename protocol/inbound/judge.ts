import { categoryOfEnhanced, classifyReply, parseSmtpReply, suppressesAddress, type Category } from "../classify.ts";
import type { InboundOutcome } from "./report.ts";

/**
 * One failed (or delayed, or delivered) recipient of a bounce → outcome and category, with
 * the same reply classification the sender uses for synchronous replies
 * (protocol/classify.ts), so an address is judged dead by the same words either way.
 *
 * A DSN's Status field is the reporting MTA's own verdict. When it is specific about the
 * address or the mailbox (X.1.x, X.2.x, not X.0.0) it wins over a generic reading of the
 * diagnostic text: Postfix reports `550 5.1.1 <ann@aol.com>: Recipient address rejected`,
 * whose word "rejected" alone would read as a policy block.
 */
export interface Judged {
  outcome: InboundOutcome;
  category: Category;
}

const GENERIC: ReadonlySet<Category> = new Set(["policy_block", "other", "protocol"]);
/** Words of bounce notices (not of SMTP replies) that say the address is gone. */
const GONE = /not listed in (the )?([\w ]{0,20})?directory|address couldn't be found|recipient name is not recognized|no mailbox by that name|(mailbox|account) (has been )?(removed|deleted|closed)|(address|recipient|user) (was )?not found|no longer (active|valid|in use)/i;
const POSITIVE = /^(delivered|relayed|expanded)$/i;

/** Normalise the diagnostic for the reply parser: `550 #5.1.0` (Gmail, qmail) has the enhanced code behind a `#`. */
const tidy = (text: string): string => text.replace(/#([245]\.\d{1,3}\.\d{1,3})/g, "$1").replace(/\s+/g, " ").trim();

export function judge(o: { action?: string | undefined; status?: string | undefined; diagnostic?: string | undefined }): Judged {
  if (o.action !== undefined && POSITIVE.test(o.action)) return { outcome: "delivered", category: "delivered" };
  const delayed = o.action !== undefined && /^delayed$/i.test(o.action);
  const reply = parseSmtpReply(tidy(o.diagnostic ?? ""), 0);
  const statusClass = o.status !== undefined ? Number(o.status[0]) : undefined;
  const replyClass = reply.code >= 400 && reply.code < 600 ? Math.floor(reply.code / 100) : undefined;
  const klass = statusClass === 4 || statusClass === 5 ? statusClass : (replyClass ?? (delayed ? 4 : 5));
  const code = replyClass === klass ? reply.code : klass * 100 + 50;
  const specific = [o.status, reply.enhanced].find((s) => s !== undefined && !/^\d\.0\.0$/.test(s));
  const enhanced = specific ?? reply.enhanced ?? o.status;
  const c = classifyReply({ code, text: reply.text || (o.diagnostic ?? ""), ...(enhanced !== undefined ? { enhanced } : {}) });
  let category = c.category;
  if (GENERIC.has(category) && specific !== undefined && /^\d\.[12]\./.test(specific)) category = categoryOfEnhanced(specific) ?? category;
  if (GENERIC.has(category) && GONE.test(o.diagnostic ?? "")) category = "unknown_user";
  const permanent = !delayed && (klass === 5 || c.outcome === "bounce");
  const hard = permanent && suppressesAddress({ outcome: "bounce", category, throttle: false });
  return { outcome: hard ? "hard" : "soft", category };
}
