/**
 * RFC 3464 `message/delivery-status` (and RFC 5965 `message/feedback-report`) bodies: header-like
 * fields in blank-line separated groups, the first about the message, the next ones one per
 * recipient. Field names are case-insensitive; a line starting with white space continues the
 * previous field; a field may repeat (Original-Rcpt-To in ARF), so values are lists.
 */
export type Fields = Map<string, string[]>;

export function parseFieldGroups(text: string): Fields[] {
  const groups: Fields[] = [];
  let current: Fields | undefined;
  let last: { name: string; index: number } | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") {
      current = undefined;
      last = undefined;
      continue;
    }
    if (/^[ \t]/.test(line) && current !== undefined && last !== undefined) {
      const values = current.get(last.name);
      if (values !== undefined) values[last.index] = `${values[last.index] ?? ""} ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    if (current === undefined) {
      current = new Map();
      groups.push(current);
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const values = current.get(name) ?? [];
    values.push(line.slice(colon + 1).trim());
    current.set(name, values);
    last = { name, index: values.length - 1 };
  }
  return groups;
}

export const field = (f: Fields, name: string): string | undefined => f.get(name)?.[0];

/** `rfc822; ann@example.com` → `ann@example.com` (the address type is dropped, angle brackets too). */
export function addressField(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const semi = value.indexOf(";");
  const address = (semi >= 0 ? value.slice(semi + 1) : value).trim().replace(/^<|>$/g, "");
  return address.includes("@") ? address : undefined;
}

/** `smtp; 550 5.1.1 <ann@…>: user unknown` → `550 5.1.1 <ann@…>: user unknown`. */
export function diagnosticField(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(smtp|x-[\w-]+|x400|unix)\s*;\s*/i.exec(value);
  return (m ? value.slice(m[0].length) : value).trim() || undefined;
}

/** `5.0.0 (permanent failure)` → `5.0.0`. */
export const statusField = (value: string | undefined): string | undefined => (value === undefined ? undefined : /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(value)?.[1]);
