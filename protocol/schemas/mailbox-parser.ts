/**
 * The string form of a mailbox (RFC 5322 §3.4), parsed by hand in one pass: a regex for
 * `phrase <addr-spec>` backtracks on runs of spaces or quotes. Accepted:
 *   local@domain
 *   Display Name <local@domain>
 *   "Display, Name" <local@domain>      (quoted-string; \" and \\ escape)
 *   <local@domain>
 * The address itself is checked by checkAddress; the name by the display-name schema.
 */
export type ParsedMailbox = { ok: true; name?: string; address: string } | { ok: false; problem: string };

const fail = (problem: string): ParsedMailbox => ({ ok: false, problem });

export function parseMailbox(input: string): ParsedMailbox {
  const s = input.trim();
  if (!s.endsWith(">")) {
    if (s.includes("<") || s.includes(">")) return fail("has an unbalanced < or >");
    return { ok: true, address: s };
  }
  const lt = s.lastIndexOf("<");
  if (lt < 0) return fail("has an unbalanced < or >");
  const address = s.slice(lt + 1, -1).trim();
  const phrase = s.slice(0, lt).trim();
  if (phrase === "") return { ok: true, address };
  const name = phrase.startsWith('"') ? unquote(phrase) : bare(phrase);
  if (typeof name !== "string") return name;
  return name === "" ? { ok: true, address } : { ok: true, name, address };
}

/** A quoted-string display name without its quotes and escapes. */
function unquote(p: string): string | ParsedMailbox {
  if (p.length < 2 || !p.endsWith('"')) return fail('has an unterminated quoted display name (missing ")');
  const parts: string[] = [];
  let from = 1;
  const last = p.length - 1;
  for (let i = 1; i < last; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      if (i + 1 >= last) return fail('has an unterminated quoted display name (missing ")');
      parts.push(p.slice(from, i));
      from = i + 1;
      i++;
    } else if (c === 0x22 /* " */) {
      return fail('has a " inside a quoted display name (escape it as \\")');
    }
  }
  parts.push(p.slice(from, last));
  return parts.join("").trim();
}

/** An unquoted display name: any text but quotes and angle brackets. */
function bare(p: string): string | ParsedMailbox {
  if (p.includes('"')) return fail('has a " in its display name (quote the whole name: "A, B" <a@b.example>)');
  if (p.includes("<") || p.includes(">")) return fail("has < or > in its display name (quote the whole name)");
  return p;
}
