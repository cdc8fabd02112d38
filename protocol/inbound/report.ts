import { z } from "zod";

/**
 * What an inbound message is, as `sluice inbound parse --json` prints it and the inbound
 * consumer acts on it. One record per recipient the report is about.
 *  - outcome `hard`: the address is dead (unknown user, no such domain, disabled mailbox):
 *    suppress it;
 *  - `soft`: this message did not arrive but the address may well work (mailbox full,
 *    expired after retries, a policy or size rejection): nothing suppressed;
 *  - `complaint`: a feedback report (ARF abuse, fraud, virus, other);
 *  - `autoreply`: an RFC 3834 automatic answer (vacation, out of office): no failure at all;
 *  - `delivered`: a positive DSN (delivered, relayed, expanded).
 */
export const INBOUND_KINDS = ["dsn", "arf", "autoreply", "unknown"] as const;
export const INBOUND_OUTCOMES = ["hard", "soft", "complaint", "autoreply", "delivered"] as const;
export type InboundKind = (typeof INBOUND_KINDS)[number];
export type InboundOutcome = (typeof INBOUND_OUTCOMES)[number];

export const InboundRecipient = z
  .object({
    address: z.string(),
    /** RFC 3464 Action: failed, delayed, delivered, relayed, expanded (or what a non-RFC notice says in words). */
    action: z.string().optional(),
    /** RFC 3463 enhanced status code, e.g. 5.1.1. */
    status: z.string().optional(),
    /** The remote server's own words (Diagnostic-Code, or the notice's text about this recipient). */
    diagnostic: z.string().optional(),
    outcome: z.enum(INBOUND_OUTCOMES),
    /** A protocol/classify.ts category for bounces; the feedback type for complaints; `autoreply`, `delivered`. */
    category: z.string(),
  })
  .strict();
export type InboundRecipient = z.infer<typeof InboundRecipient>;

export const InboundReport = z
  .object({
    kind: z.enum(INBOUND_KINDS),
    recipients: z.array(InboundRecipient),
    /** ARF Feedback-Type (abuse, fraud, virus, other, not-spam, auth-failure...). */
    feedbackType: z.string().optional(),
    /** The Sluice recipient id the report is about, when it could be found (VERP, Message-ID); not yet verified. */
    recipientId: z.string().optional(),
  })
  .strict();
export type InboundReport = z.infer<typeof InboundReport>;

/** A report and what was found in it to tie it to a message: checked (HMAC) before anything is done. */
export interface ParsedInbound {
  report: InboundReport;
  /** VERP-shaped addresses found in the envelope and the returned headers, unverified. */
  verpAddresses: string[];
  /** A person's "unsubscribe" mail (the List-Unsubscribe mailto: URI): who sent it. */
  unsubscribeFrom?: string;
}

/** A recipient record with its fields in the documented order, the unknown ones left out. */
export function recipientRecord(r: { address: string; action?: string | undefined; status?: string | undefined; diagnostic?: string | undefined; outcome: InboundOutcome; category: string }): InboundRecipient {
  const out: InboundRecipient = { address: r.address } as InboundRecipient;
  if (r.action !== undefined) out.action = r.action;
  if (r.status !== undefined) out.status = r.status;
  if (r.diagnostic !== undefined) out.diagnostic = r.diagnostic.slice(0, 1000);
  out.outcome = r.outcome;
  out.category = r.category;
  return out;
}
