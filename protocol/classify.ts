/**
 * SMTP reply → outcome. This first version decides on the basic and enhanced codes only;
 * the failure-paths issue refines it with the wording big providers use (a 4xx that is
 * permanent, a 5xx that is a rate limit) and a table test of real replies.
 * The function signatures are the contract the delivery code builds on.
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

/** Pull the RFC 3463 enhanced status code (`4.7.0`) from the start of a reply text. */
export function enhancedCodeOf(text: string): string | undefined {
  return /^\s*([245]\.\d{1,3}\.\d{1,3})\b/.exec(text)?.[1];
}

export function classifyReply(reply: ReplyLike): Classification {
  const enhanced = reply.enhanced ?? enhancedCodeOf(reply.text);
  if (reply.code >= 200 && reply.code < 300) return { outcome: "delivered", category: "delivered", throttle: false };
  if (reply.code === 421 || enhanced?.startsWith("4.7.") || /too many (connections|messages)|rate limit|slow down/i.test(reply.text)) {
    return { outcome: "retry", category: "throttled", throttle: true };
  }
  if (reply.code >= 400 && reply.code < 500) {
    if (enhanced === "4.2.2" || reply.code === 452) return { outcome: "retry", category: "mailbox_full", throttle: false };
    return { outcome: "retry", category: "other", throttle: false };
  }
  if (reply.code >= 500 && reply.code < 600) {
    if (enhanced === "5.1.1" || enhanced === "5.1.0") return { outcome: "bounce", category: "unknown_user", throttle: false };
    if (enhanced === "5.1.2" || enhanced === "5.4.4") return { outcome: "bounce", category: "domain_not_found", throttle: false };
    if (enhanced === "5.2.2") return { outcome: "bounce", category: "mailbox_full", throttle: false };
    if (enhanced === "5.3.4" || reply.code === 552) return { outcome: "bounce", category: "message_too_large", throttle: false };
    if (enhanced?.startsWith("5.7.")) return { outcome: "bounce", category: "policy_block", throttle: false };
    return { outcome: "bounce", category: "other", throttle: false };
  }
  return { outcome: "retry", category: "protocol", throttle: false };
}

/** A connection-level failure (refused, reset, timeout, DNS temporary failure): retry later. */
export function classifyNetworkError(error: { code?: string; message: string }): Classification {
  if (error.code === "ENOTFOUND" || error.code === "ENODATA") return { outcome: "bounce", category: "domain_not_found", throttle: false };
  return { outcome: "retry", category: "network", throttle: false };
}
