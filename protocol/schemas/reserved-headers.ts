/**
 * Headers Sluice writes itself. A request's `headers` may not set them (any case): a
 * second Content-Type or Content-Transfer-Encoding breaks the MIME structure, a From or
 * Return-Path bypasses the checked addresses, a DKIM-Signature or Received forges trace.
 * List-Unsubscribe is the client's to set (its own unsubscribe address is the only real
 * one); the node drops a List-Unsubscribe-Post that has no https URI beside it (RFC 8058).
 */
export const RESERVED_HEADERS = [
  "Content-Type",
  "Content-Transfer-Encoding",
  "Content-Disposition",
  "MIME-Version",
  "Return-Path",
  "DKIM-Signature",
  "Message-ID",
  "Date",
  "From",
  "To",
  "Cc",
  "Bcc",
  "Reply-To",
  "Subject",
  "Sender",
  "Received",
] as const;

const RESERVED = new Set<string>(RESERVED_HEADERS.map((h) => h.toLowerCase()));

export const isReservedHeader = (name: string): boolean => RESERVED.has(name.toLowerCase());
