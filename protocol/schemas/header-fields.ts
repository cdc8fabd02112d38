import { z } from "zod";
import { HeaderName, HeaderText } from "./address.ts";
import { RESERVED_HEADERS } from "./reserved-headers.ts";

/** More than any real message carries; counted before a single name is checked. */
export const MAX_HEADER_FIELDS = 100;

/**
 * A request's extra header fields. The count is bounded first: zod would otherwise check
 * every name and value of a 10 MB object of headers before its length could say no.
 */
export const HeaderFields = z
  .preprocess((value, ctx) => {
    if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length > MAX_HEADER_FIELDS) {
      ctx.addIssue({ code: "custom", message: `has more than ${MAX_HEADER_FIELDS} header fields` });
    }
    return value;
  }, z.record(HeaderName, HeaderText))
  .describe(`Extra header fields (RFC 5322 field names, at most ${MAX_HEADER_FIELDS}). Sluice owns, and refuses with 400 reserved_header (any case): ${RESERVED_HEADERS.join(", ")}.`);
