import { z } from "zod";
import { payloadRefPattern } from "../ids.ts";
import { HeaderText, Mailbox } from "./address.ts";
import { HeaderFields } from "./header-fields.ts";
import { isBase64 } from "./base64.ts";

export const Attachment = z
  .object({
    filename: HeaderText.min(1).max(255),
    contentType: z
      .string()
      .max(255)
      .regex(/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i, "is not a MIME type (type/subtype)")
      .default("application/octet-stream"),
    contentBase64: z.string().refine(isBase64, "is not base64"),
  })
  .strict();

/**
 * The content of a mail, written once (to the object store, under its content hash)
 * and shared by every recipient. `subject`, `text` and `html` may hold `{{var}}`
 * placeholders that are filled per recipient at send time.
 */
export const Payload = z
  .object({
    from: Mailbox,
    replyTo: z.array(Mailbox).max(10).optional(),
    /** Header To/Cc as the client wants them displayed; envelope recipients are per message. */
    to: z.array(Mailbox).max(1000).optional(),
    cc: z.array(Mailbox).max(1000).optional(),
    subject: HeaderText,
    text: z.string().optional(),
    html: z.string().optional(),
    headers: HeaderFields.optional(),
    attachments: z.array(Attachment).max(100).optional(),
  })
  .strict();
export type Payload = z.infer<typeof Payload>;

/** A pointer to a payload in the `mail_payloads` object store. */
export const PayloadRef = z.object({
  ref: z.string().regex(payloadRefPattern, "is not a payload reference (sha256-<hex>)"),
  size: z.number().int().nonnegative(),
});
export type PayloadRef = z.infer<typeof PayloadRef>;

/** Either a reference, or — for a small payload used once — the payload itself. */
export const PayloadPointer = z.union([PayloadRef.strict(), z.object({ inline: Payload }).strict()]);
export type PayloadPointer = z.infer<typeof PayloadPointer>;
