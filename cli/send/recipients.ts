import { checkAddress } from "../../protocol/index.ts";
import { CsvError, parseCsv } from "./csv.ts";

/**
 * A recipients CSV: a header row with an `email` column; every other column is a
 * template variable of that recipient. Bad rows are set aside with a reason instead of
 * failing the whole file: the sender sees exactly which lines did not go out, and why.
 */

export interface CsvRecipient {
  line: number;
  to: string;
  vars: Record<string, string>;
}

export interface Rejected {
  /** CSV line, or the address, that was not accepted. */
  where: string;
  reason: string;
}

export interface RecipientsFile {
  columns: string[];
  recipients: CsvRecipient[];
  rejected: Rejected[];
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;

export function recipientsFromCsv(text: string): RecipientsFile {
  const records = parseCsv(text);
  const header = records[0];
  if (!header) throw new CsvError("empty file: expected a header row with an email column", 1);
  const names = header.fields.map((f) => f.trim());
  const emailAt = names.findIndex((n) => n.toLowerCase() === "email");
  if (emailAt < 0) throw new CsvError(`no "email" column in the header (found: ${names.join(", ")})`, header.line);
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (i === emailAt) return;
    if (!VAR_NAME.test(n)) throw new CsvError(`column ${i + 1} "${n}" is not a usable variable name (letters, digits, _ . -; at most 64)`, header.line);
    if (seen.has(n)) throw new CsvError(`column "${n}" appears twice`, header.line);
    seen.add(n);
  });

  const recipients: CsvRecipient[] = [];
  const rejected: Rejected[] = [];
  for (const record of records.slice(1)) {
    const where = `line ${record.line}`;
    if (record.fields.every((f) => f.trim() === "")) continue;
    if (record.fields.length !== names.length) {
      rejected.push({ where, reason: `has ${record.fields.length} fields, the header has ${names.length}` });
      continue;
    }
    const to = (record.fields[emailAt] ?? "").trim();
    const problem = to === "" ? "has no email" : checkAddress(to);
    if (problem !== undefined) {
      rejected.push({ where, reason: to === "" ? problem : `${to} ${problem}` });
      continue;
    }
    const vars: Record<string, string> = {};
    record.fields.forEach((value, i) => {
      if (i !== emailAt) vars[names[i] as string] = value;
    });
    recipients.push({ line: record.line, to, vars });
  }
  return { columns: names.filter((_, i) => i !== emailAt), recipients, rejected };
}
