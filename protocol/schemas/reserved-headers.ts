/**
 * Headers Sluice writes itself. A request's `headers` may not set them (any case): a
 * second Content-Type or Content-Transfer-Encoding breaks the MIME structure, a From or
 * Return-Path bypasses the checked addresses, a DKIM-Signature or Received forges trace.
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
  "List-Unsubscribe",
  "List-Unsubscribe-Post",
  "Received",
] as const;

const RESERVED = new Set<string>(RESERVED_HEADERS.map((h) => h.toLowerCase()));

export const isReservedHeader = (name: string): boolean => RESERVED.has(name.toLowerCase());
