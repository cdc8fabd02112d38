import { z } from "zod";
import { normalizeDomain } from "../domain.ts";

/**
 * Header injection is the classic way to abuse a mail API: any CR or LF in an address,
 * subject or header value lets a caller add headers or whole messages. Reject, never strip.
 */
const NO_CRLF = /^[^\r\n]*$/;
// Controls other than TAB have no place in a header either.
const NO_CONTROL = /^[^\x00-\x08\x0a-\x1f\x7f]*$/;

export const HeaderText = z
  .string()
  .max(998, "is longer than the 998 characters a header line may hold (RFC 5322 §2.1.1)")
  .regex(NO_CRLF, "contains CR or LF (header injection)")
  .regex(NO_CONTROL, "contains control characters");

export const HeaderName = z
  .string()
  .min(1)
  .max(76)
  .regex(/^[!-9;-~]+$/, "is not a valid header name (printable ASCII, no colon or space)");

// RFC 5321 local part limits; UTF-8 local parts (RFC 6531) are allowed, whitespace,
// controls, angle brackets and quotes are not (we never need quoted local parts).
const LOCAL_PART = /^[^\s\x00-\x1f\x7f<>()\[\]\\,;:@"]{1,64}$/u;

export function checkAddress(address: string): string | undefined {
  if (!NO_CRLF.test(address)) return "contains CR or LF (header injection)";
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return "is not an email address (expected local@domain)";
  const local = address.slice(0, at);
  if (!LOCAL_PART.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    return "has an invalid local part";
  }
  const domain = normalizeDomain(address.slice(at + 1));
  if (domain === undefined || !domain.includes(".")) return "has an invalid domain";
  return undefined;
}

/** A bare address: `user@example.com`, IDN domains allowed (`user@bücher.de`). */
export const EmailAddress = z
  .string()
  .max(320)
  .superRefine((value, ctx) => {
    const problem = checkAddress(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });

const DisplayName = HeaderText.max(200);

/** `"Ann <ann@example.com>"` or `{ name, address }`, normalised to the object form. */
export const Mailbox = z.union([
  z.object({ name: DisplayName.optional(), address: EmailAddress }).strict(),
  z
    .string()
    .max(600)
    .transform((value, ctx) => {
      const m = /^\s*(?:"?([^"<]*?)"?\s*)?<([^<>]+)>\s*$/.exec(value);
      const address = (m ? m[2] : value)?.trim() ?? "";
      const name = m?.[1]?.trim();
      const problem = checkAddress(address) ?? (name !== undefined && !NO_CRLF.test(name) ? "contains CR or LF (header injection)" : undefined);
      if (problem !== undefined) {
        ctx.addIssue({ code: "custom", message: problem });
        return z.NEVER;
      }
      return name ? { name, address } : { address };
    }),
]);

export type Mailbox = z.infer<typeof Mailbox>;
