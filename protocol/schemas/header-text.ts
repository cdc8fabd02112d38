/**
 * What may appear in a header line (RFC 5322 §2.2): no CR or LF (header injection) and no
 * control character at all — C0 (TAB included: we never fold or align), DEL, and C1,
 * which mail readers render as garbage or treat as terminal escapes. Refused, never
 * stripped. Plain loops and one-character classes: linear on any input.
 */
const CRLF = /[\r\n]/;
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

const hex = (c: number): string => `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;

/** Why `s` cannot go into a header, or undefined. Length is checked first: no scan of a huge string. */
export function headerTextProblem(s: string, max = 998): string | undefined {
  if (s.length > max) return max === 998 ? "is longer than the 998 characters a header line may hold (RFC 5322 §2.1.1)" : `is longer than ${max} characters`;
  if (CRLF.test(s)) return "contains CR or LF (header injection)";
  const at = s.search(CONTROL);
  if (at >= 0) return `contains a control character (${hex(s.charCodeAt(at))} at ${at})`;
  if (!isWellFormed(s)) return "contains a lone UTF-16 surrogate (not Unicode text)";
  return undefined;
}

/** RFC 5322 §3.6.8 field-name: printable US-ASCII except colon (ftext), at most 76 so the line can fold. */
const FIELD_NAME = /^[!-9;-~]{1,76}$/;

export const isFieldName = (name: string): boolean => name.length <= 76 && FIELD_NAME.test(name);

/** No lone UTF-16 surrogate (String.prototype.isWellFormed: Node 20, not yet in our TS lib). */
export const isWellFormed = (s: string): boolean => (s as string & { isWellFormed(): boolean }).isWellFormed();
