import { z } from "zod";
import { normalizeDomain } from "../domain.ts";
import { headerTextProblem, isFieldName } from "./header-text.ts";
import { parseMailbox } from "./mailbox-parser.ts";
import { isReservedHeader } from "./reserved-headers.ts";

/**
 * Header injection is the classic way to abuse a mail API: any CR or LF in an address,
 * subject or header value lets a caller add headers or whole messages. Reject, never strip.
 * Every check here is linear in its input, and a length bound comes before any scan.
 */
const headerText = (max: number) =>
  z
    .string()
    .max(max, max === 998 ? "is longer than the 998 characters a header line may hold (RFC 5322 §2.1.1)" : `is longer than ${max} characters`)
    .superRefine((value, ctx) => {
      const problem = headerTextProblem(value, max);
      if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
    });

export const HeaderText = headerText(998);

export const HeaderName = z.string().superRefine((name, ctx) => {
  if (!isFieldName(name)) ctx.addIssue({ code: "custom", message: "is not a valid header name (RFC 5322: 1 to 76 printable ASCII characters, no colon or space)" });
  else if (isReservedHeader(name)) ctx.addIssue({ code: "custom", message: "is a reserved header: Sluice sets it itself and a request may not" });
});

// RFC 5321 local part limits; UTF-8 local parts (RFC 6531) are allowed, whitespace,
// controls (C0, DEL, C1), angle brackets and quotes are not (we never need quoted local parts).
const LOCAL_PART = /^[^\s\x00-\x1f\x7f-\x9f<>()\[\]\\,;:@"]{1,64}$/u;

export const MAX_ADDRESS_LENGTH = 320;

export function checkAddress(address: string): string | undefined {
  if (address.length > MAX_ADDRESS_LENGTH) return `is longer than ${MAX_ADDRESS_LENGTH} characters`;
  const unsafe = headerTextProblem(address);
  if (unsafe !== undefined) return unsafe;
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return "is not an email address (expected local@domain)";
  const local = address.slice(0, at);
  if (!LOCAL_PART.test(local) || local.startsWith(".") || local.endsWith(".") || local.includes("..")) {
    return "has an invalid local part";
  }
  if (!isMailDomain(address.slice(at + 1))) return "has an invalid domain";
  return undefined;
}

/**
 * The value an error is about, quoted and cut short, so that a caller with a list of
 * hundreds of addresses sees which one at once (`to.3 has an invalid domain: "ann@exa mple.com"`).
 */
export function echoValue(value: string, max = 80): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

// IDN normalisation is the dearest step of checking an address, and a batch of 100,000
// recipients goes to a few hundred domains: remember the verdicts (bounded, cleared when full).
const domainVerdicts = new Map<string, boolean>();

function isMailDomain(raw: string): boolean {
  let ok = domainVerdicts.get(raw);
  if (ok === undefined) {
    const domain = normalizeDomain(raw);
    ok = domain !== undefined && domain.includes(".");
    if (domainVerdicts.size >= 10_000) domainVerdicts.clear();
    domainVerdicts.set(raw, ok);
  }
  return ok;
}

/** A bare address: `user@example.com`, IDN domains allowed (`user@bücher.de`). */
export const EmailAddress = z.string().max(MAX_ADDRESS_LENGTH, `is longer than ${MAX_ADDRESS_LENGTH} characters`).superRefine((value, ctx) => {
  const problem = checkAddress(value);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${problem}: ${echoValue(value)}` });
});

const DisplayName = headerText(200);

const MailboxObject = z.object({ name: DisplayName.optional(), address: EmailAddress }).strict();

/**
 * `"Ann <ann@example.com>"` or `{ name, address }`, normalised to the object form. The
 * string form is parsed (protocol/schemas/mailbox-parser.ts), then checked by the object
 * schema: one schema decides for both, so what the gateway accepts the node accepts.
 */
export const Mailbox = z.union([
  MailboxObject,
  z
    .string()
    .max(600)
    .transform((value, ctx) => {
      const parsed = parseMailbox(value);
      if (!parsed.ok) {
        ctx.addIssue({ code: "custom", message: `${parsed.problem}: ${echoValue(value)}` });
        return z.NEVER;
      }
      const mailbox = parsed.name === undefined ? { address: parsed.address } : { name: parsed.name, address: parsed.address };
      const checked = MailboxObject.safeParse(mailbox);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        const message = issue?.message ?? "is invalid";
        ctx.addIssue({ code: "custom", message: issue?.path[0] === "name" ? `display name ${message}` : message });
        return z.NEVER;
      }
      return checked.data;
    }),
]);

export type Mailbox = z.infer<typeof Mailbox>;
