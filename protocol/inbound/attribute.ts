import { matchingAddress } from "../canonical-address.ts";
import { parseSmtpReply } from "../classify.ts";
import type { EventTypeName } from "../subjects.ts";
import type { InboundOutcome, InboundRecipient, ParsedInbound } from "./report.ts";
import { verifyVerp, type TenantOf, type VerpKey } from "./verp.ts";

/**
 * What a parsed inbound message does, decided without I/O: which tenant's message it is
 * about, which event that message gets, and whether an address is suppressed. Only a VERP
 * address whose mac verifies ties a report to a message: a report that names a message in
 * its content alone (a Message-ID, a Final-Recipient) is anyone's to forge, so it changes
 * nothing (it is logged and counted as unattributed). Only an address the VERP mac proves —
 * the one we sent this message to — is ever suppressed; a report about another tenant's
 * recipient fails the mac, which covers the tenant.
 */
export type Attribution =
  | { attributed: false; why: "no_verp" | "forged" | "nothing_to_do" }
  | {
      attributed: true;
      tenant: string;
      recipientId: string;
      event: EventTypeName;
      recipient: InboundRecipient;
      /** Set only when the address is proven by the VERP mac. */
      address: string | undefined;
      suppress: "hard_bounce" | "complaint" | "unsubscribe" | undefined;
      reply: { code: number; enhanced?: string; text: string } | undefined;
    };

const EVENT_OF: Record<InboundOutcome, EventTypeName | undefined> = {
  hard: "bounced",
  soft: "soft_bounced",
  complaint: "complained",
  autoreply: "auto_replied",
  delivered: undefined,
};

/** `tenantOf`: the tenants of VERP addresses that leave them out (see verp.ts), found by the caller. */
export function attribute(parsed: ParsedInbound, key: VerpKey, tenantOf?: TenantOf): Attribution {
  if (parsed.verpAddresses.length === 0) return { attributed: false, why: "no_verp" };
  if (parsed.unsubscribeFrom !== undefined) return unsubscribeMail(parsed, parsed.unsubscribeFrom, key, tenantOf);
  const candidates = parsed.report.recipients.map((r) => r.address).filter((a) => a.includes("@"));
  for (const verp of parsed.verpAddresses) {
    const check = verifyVerp(key, verp, candidates, tenantOf);
    if (!check.ok) continue;
    const proven = check.address === undefined ? undefined : matchingAddress(check.address);
    const recipients = parsed.report.recipients;
    // The record about the proven address; else, with one record only, that one (a forwarding
    // hop rewrote the address, or an auto-reply came from another address): its event is
    // reported, but nothing is suppressed.
    const recipient = recipients.find((r) => proven !== undefined && matchingAddress(r.address) === proven) ?? (recipients.length === 1 ? recipients[0] : undefined);
    const event = recipient === undefined ? undefined : EVENT_OF[recipient.outcome];
    if (recipient === undefined || event === undefined) return { attributed: false, why: "nothing_to_do" };
    const addressProven = proven !== undefined && matchingAddress(recipient.address) === proven;
    const suppress = !addressProven ? undefined : recipient.outcome === "hard" ? "hard_bounce" : recipient.outcome === "complaint" ? "complaint" : undefined;
    return { attributed: true, tenant: check.tenant, recipientId: check.recipientId, event, recipient, address: addressProven ? proven : undefined, suppress, reply: replyOf(recipient) };
  }
  return { attributed: false, why: "forged" };
}

function replyOf(r: InboundRecipient): { code: number; enhanced?: string; text: string } | undefined {
  if (r.diagnostic === undefined || (r.outcome !== "hard" && r.outcome !== "soft")) return undefined;
  const reply = parseSmtpReply(r.diagnostic, 0);
  const enhanced = reply.enhanced ?? r.status;
  return { code: reply.code, text: reply.text || r.diagnostic, ...(enhanced !== undefined ? { enhanced } : {}) };
}

/** An "unsubscribe" mail to the VERP address: honoured only from the very address the message went to. */
function unsubscribeMail(parsed: ParsedInbound, from: string, key: VerpKey, tenantOf?: TenantOf): Attribution {
  for (const verp of parsed.verpAddresses) {
    const check = verifyVerp(key, verp, [from], tenantOf);
    if (!check.ok) continue;
    if (check.address === undefined) return { attributed: false, why: "nothing_to_do" };
    const address = matchingAddress(check.address);
    const recipient: InboundRecipient = { address, action: "unsubscribe", outcome: "delivered", category: "unsubscribe" };
    return { attributed: true, tenant: check.tenant, recipientId: check.recipientId, event: "unsubscribed", recipient, address, suppress: "unsubscribe", reply: undefined };
  }
  return { attributed: false, why: "forged" };
}
