/**
 * RFC 4180 CSV: fields separated by commas, records by CRLF (LF and CR alone accepted too),
 * a field in double quotes may hold commas, line breaks and `""` for a quote. A UTF-8 BOM
 * (spreadsheets write one) is skipped.
 */

export class CsvError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = "CsvError";
  }
}

export interface CsvRecord {
  /** 1-based line where the record starts (a quoted field may span several lines). */
  line: number;
  fields: string[];
}

export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let fields: string[] = [];
  let field = "";
  let recordLine = 1;
  let quoted = false;
  // A record is pending once anything (even an empty field before a comma) was seen.
  let pending = false;

  const endField = () => {
    fields.push(field);
    field = "";
  };
  const endRecord = () => {
    endField();
    records.push({ line: recordLine, fields });
    fields = [];
    pending = false;
  };

  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        const next = text[i];
        if (next !== undefined && next !== "," && next !== "\r" && next !== "\n") {
          throw new CsvError(`unexpected character after a closing quote: ${JSON.stringify(next)}`, line);
        }
        continue;
      }
      if (c === "\n") line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field !== "") throw new CsvError("a quote inside an unquoted field (quote the whole field and double the quote)", line);
      if (!pending) recordLine = line;
      quoted = true;
      pending = true;
      i++;
      continue;
    }
    if (c === ",") {
      if (!pending) recordLine = line;
      pending = true;
      endField();
      i++;
      continue;
    }
    if (c === "\r" || c === "\n") {
      if (pending || field !== "") endRecord();
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      continue;
    }
    if (!pending) recordLine = line;
    pending = true;
    field += c;
    i++;
  }
  if (quoted) throw new CsvError("unterminated quoted field", recordLine);
  if (pending || field !== "") endRecord();
  return records;
}
