import { normalizeDomain, verpAddress, type Category, type DeliveryMessage, type VerpKey } from "../../protocol/index.ts";

/**
 * The SMTP envelope of one message. Domains go out in A-label form (punycode, RFC 5890),
 * which every server understands; only a non-ASCII local part needs SMTPUTF8 (RFC 6531),
 * which the server must offer: raw UTF-8 in MAIL FROM / RCPT TO without it is a protocol
 * violation that servers mangle or refuse in ways that look like other failures.
 */
export type Envelope = { ok: true; from: string; to: string; needsSmtpUtf8: boolean } | { ok: false; error: string };

/**
 * Not in protocol/classify.ts's CATEGORIES yet (owned elsewhere); the category is a string
 * on the wire (events, attempts, dead letters), only the TypeScript union lags behind.
 */
export const SMTPUTF8_UNSUPPORTED: Category = "smtputf8_unsupported";

const NON_ASCII = /[^\x00-\x7f]/;

/** `local@domain` with the domain as an A-label; undefined when the domain has none. */
export function aLabelAddress(address: string): { address: string; utf8Local: boolean } | undefined {
  const at = address.lastIndexOf("@");
  if (at <= 0) return undefined;
  const local = address.slice(0, at);
  const domain = normalizeDomain(address.slice(at + 1));
  if (domain === undefined) return undefined;
  return { address: `${local}@${domain}`, utf8Local: NON_ASCII.test(local) };
}

export function envelopeOf(mailFrom: string, rcptTo: string): Envelope {
  const from = aLabelAddress(mailFrom);
  if (from === undefined) return { ok: false, error: `the envelope sender ${JSON.stringify(mailFrom)} has no ASCII (A-label) domain form` };
  const to = aLabelAddress(rcptTo);
  if (to === undefined) return { ok: false, error: `the recipient ${JSON.stringify(rcptTo)} has no ASCII (A-label) domain form` };
  return { ok: true, from: from.address, to: to.address, needsSmtpUtf8: from.utf8Local || to.utf8Local };
}

/**
 * Sluice's own return path: VERP addresses at the bounce domain (SLUICE_BOUNCE_DOMAIN), or at
 * the sender domain's own `bounces.<domain>` once the tenant has published it (`perDomain`).
 */
export interface ReturnPath {
  key: VerpKey;
  domain: string;
  perDomain?: { of(tenant: string, senderDomain: string): string | undefined };
}

/**
 * The envelope sender (MAIL FROM) of one message: with a bounce domain, its VERP address
 * (protocol/inbound/verp.ts), so that what bounces later names this message and recipient
 * under a signature; without one, the From address as before (bounces go to the client).
 */
export function envelopeSenderOf(m: DeliveryMessage, returnPath: ReturnPath | undefined): string {
  if (returnPath === undefined) return m.mailFrom;
  const senderDomain = m.mailFrom.slice(m.mailFrom.lastIndexOf("@") + 1);
  const domain = returnPath.perDomain?.of(m.tenant, senderDomain) ?? returnPath.domain;
  return verpAddress(returnPath.key, { tenant: m.tenant, recipientId: m.id, rcptTo: m.rcptTo, domain });
}
