import { randomBytes } from "node:crypto";
import * as base64 from "nodemailer/lib/base64";
import * as mimeFuncs from "nodemailer/lib/mime-funcs";
import * as qp from "nodemailer/lib/qp";
import type { Payload } from "../../protocol/index.ts";
import { buildTemplate, crlf, escapeHtml, headerSafe, type MimeTemplate } from "./mime.ts";

/**
 * Templates compiled once per payload (issue 17). A personalized payload used to be built
 * per recipient by nodemailer's MailComposer (~450 µs of the node's CPU per message at 5 KB,
 * more than all the rest of delivery). Now the MIME skeleton is built once, with marker
 * tokens where the subject, text and html go; per recipient only the variables are joined
 * into the static segments, and a part is quoted-printable or base64 encoded only when its
 * filled-in content needs it — the same choice and the same encoders nodemailer uses, so the
 * bytes are those of a per-recipient build (test/unit/template.test.ts checks byte equality).
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]{1,64})\s*\}\}/g;

/** A text split at its placeholders: statics[0] name[0] statics[1] ... statics[n]. */
interface Segments {
  statics: string[];
  /** The statics with CRLF line ends, as a 7bit part goes out (see crlf in mime.ts). */
  wire: string[];
  names: string[];
  /** What the 7bit test needs of each static, measured once (see lines()). */
  shapes: Shape[];
}

/** A static segment for the 7bit test: plain ASCII?, its first and last line's lengths, a long line inside. */
interface Shape {
  plain: boolean;
  breaks: boolean;
  head: number;
  tail: number;
  long: boolean;
}

type Part = "text" | "html";
type Piece = string | { slot: "subject" } | { slot: "cte" | "body"; part: Part };

export interface CompiledTemplate {
  /** The whole message (headers and body, latin1) as static pieces and slots. */
  pieces: Piece[];
  subject: Segments | undefined;
  text: Segments | undefined;
  html: Segments | undefined;
  /** Multipart boundaries of the skeleton: a filled-in 7bit part must not contain one. */
  boundaries: string[];
  hasTo: boolean;
  hasListUnsubscribe: boolean;
  /** For the rare recipient whose values the skeleton cannot carry (see fill). */
  payload: Payload;
}

export function splitSegments(s: string): Segments | undefined {
  PLACEHOLDER.lastIndex = 0;
  if (!PLACEHOLDER.test(s)) return undefined;
  PLACEHOLDER.lastIndex = 0; // matchAll starts where the regex stands
  const statics: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of s.matchAll(PLACEHOLDER)) {
    statics.push(s.slice(last, m.index));
    names.push(m[1] as string);
    last = m.index + m[0].length;
  }
  statics.push(s.slice(last));
  return { statics, wire: statics.map(crlf), names, shapes: statics.map(shapeOf) };
}

function shapeOf(s: string): Shape {
  let column = 0;
  let head = -1;
  let long = false;
  let plain = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) {
      if (head < 0) head = column;
      else if (column > 76) long = true;
      column = 0;
      continue;
    }
    if (c >= 0x80 || (c < 0x20 && c !== 0x09)) plain = false;
    column++;
  }
  return head < 0 ? { plain, breaks: false, head: column, tail: column, long: false } : { plain, breaks: true, head, tail: column, long };
}

/**
 * A part's content for one recipient, and whether nodemailer would send it 7bit
 * (`isPlainText && !hasLongerLines(76)`): the statics were measured once, so only the
 * values are scanned here.
 */
function fillPart(seg: Segments, vars: Record<string, string>, escape: (s: string) => string): { content: string; wire: string; sevenBit: boolean } {
  let content = "";
  let wire = "";
  let sevenBit = true;
  let column = 0;
  for (let i = 0; i < seg.statics.length; i++) {
    const shape = seg.shapes[i] as Shape;
    content += seg.statics[i] as string;
    wire += seg.wire[i] as string;
    if (sevenBit) {
      if (!shape.plain || shape.long || column + shape.head > 76) sevenBit = false;
      column = shape.breaks ? shape.tail : column + shape.head;
    }
    if (i === seg.names.length) break;
    const value = escape(vars[seg.names[i] as string] ?? "");
    content += value;
    wire += crlf(value);
    for (let k = 0; sevenBit && k < value.length; k++) {
      const c = value.charCodeAt(k);
      if (c === 0x0a || c === 0x0d) column = 0;
      else if (c >= 0x80 || (c < 0x20 && c !== 0x09) || ++column > 76) sevenBit = false;
    }
  }
  return { content, wire, sevenBit: sevenBit && column <= 76 };
}

function join(seg: Segments, vars: Record<string, string>, escape: (s: string) => string): string {
  let out = seg.statics[0] as string;
  for (let i = 0; i < seg.names.length; i++) out += escape(vars[seg.names[i] as string] ?? "") + (seg.statics[i + 1] as string);
  return out;
}

const identity = (s: string): string => s;

/** Compile a payload with placeholders (undefined: it has none, the static template serves every recipient). */
export async function compileTemplate(p: Payload): Promise<CompiledTemplate | undefined> {
  const subject = splitSegments(p.subject);
  const text = p.text === undefined ? undefined : splitSegments(p.text);
  const html = p.html === undefined ? undefined : splitSegments(p.html);
  if (!subject && !text && !html) return undefined;
  const tag = randomBytes(6).toString("hex");
  const mark = { subject: `SLUICE${tag}SUBJECT`, text: `SLUICE${tag}TEXT`, html: `SLUICE${tag}HTML` };
  const skeleton = await buildTemplate({ ...p, ...(subject ? { subject: mark.subject } : {}), ...(text ? { text: mark.text } : {}), ...(html ? { html: mark.html } : {}) });
  // The header block ends in CRLF; the body starts with the blank line's CRLF.
  const raw = skeleton.headers + skeleton.body.toString("latin1");
  const headerEnd = skeleton.headers.length;
  const pieces = slice(raw, headerEnd, mark, { subject: !!subject, text: !!text, html: !!html });
  const boundaries = [...raw.matchAll(/boundary="?([^";\r\n]+)"?/g)].map((m) => m[1] as string);
  return { pieces, subject, text, html, boundaries, hasTo: skeleton.hasTo, hasListUnsubscribe: skeleton.hasListUnsubscribe, payload: p };
}

/** Cut the skeleton at its markers: the Subject line, each part's body and its Content-Transfer-Encoding. */
function slice(raw: string, headerEnd: number, mark: Record<"subject" | Part, string>, has: Record<"subject" | Part, boolean>): Piece[] {
  const cuts: { at: number; end: number; piece: Piece }[] = [];
  if (has.subject) {
    const line = `Subject: ${mark.subject}`;
    const at = raw.indexOf(line);
    if (at < 0 || at > headerEnd) throw new Error("template: the Subject marker is not where it was expected");
    cuts.push({ at, end: at + line.length, piece: { slot: "subject" } });
  }
  for (const part of ["text", "html"] as const) {
    if (!has[part]) continue;
    const at = raw.indexOf(mark[part]);
    const cteLine = "Content-Transfer-Encoding: 7bit";
    const cte = raw.lastIndexOf(cteLine, at);
    if (at < 0 || cte < 0) throw new Error(`template: the ${part} marker is not where it was expected`);
    cuts.push({ at: cte + "Content-Transfer-Encoding: ".length, end: cte + cteLine.length, piece: { slot: "cte", part } });
    cuts.push({ at, end: at + mark[part].length, piece: { slot: "body", part } });
  }
  cuts.sort((a, b) => a.at - b.at);
  const pieces: Piece[] = [];
  let last = 0;
  for (const c of cuts) {
    pieces.push(raw.slice(last, c.at), c.piece);
    last = c.end;
  }
  // nodemailer ends a message with CRLF unless its last byte is LF already: after a body
  // that ends the message, that depends on the recipient's content (see fill).
  const tail = raw.slice(last);
  if (tail !== "\r\n" || typeof pieces[pieces.length - 1] === "string") pieces.push(tail);
  return pieces;
}

interface EncodedPart {
  cte: string;
  body: string;
}

/** A filled-in text part as nodemailer would send it: 7bit when it can, else QP or base64. */
function encodePart({ content, wire, sevenBit }: { content: string; wire: string; sevenBit: boolean }): EncodedPart {
  if (sevenBit) return { cte: "7bit", body: wire };
  if (textEncoding(content) === "Q") return { cte: "quoted-printable", body: crlf(qp.wrap(qp.encode(Buffer.from(content, "utf8")), 76)) };
  return { cte: "base64", body: base64.wrap(base64.encode(Buffer.from(content, "utf8")), 76) };
}

/** nodemailer's choice between Q and B: more Latin letters than other bytes → Q. */
function textEncoding(value: string): "Q" | "B" {
  let nonLatin = 0;
  let latin = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x08 || c === 0x0b || c === 0x0c || (c >= 0x0e && c <= 0x1f) || c >= 0x80) nonLatin++;
    else if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) latin++;
  }
  return nonLatin < latin ? "Q" : "B";
}

function subjectLine(value: string): string {
  return mimeFuncs.foldLines(`Subject: ${mimeFuncs.encodeWords(value, textEncoding(value), 52, true as never)}`, 76);
}

/**
 * One recipient's template. Returns undefined when the values cannot go into the skeleton
 * as is (a 7bit part that would contain a multipart boundary): the caller builds that
 * recipient the slow way.
 */
export function fill(t: CompiledTemplate, vars: Record<string, string>): MimeTemplate | undefined {
  const parts: Partial<Record<Part, EncodedPart>> = {};
  if (t.text) parts.text = encodePart(fillPart(t.text, vars, identity));
  if (t.html) parts.html = encodePart(fillPart(t.html, vars, escapeHtml));
  for (const part of [parts.text, parts.html]) {
    if (part?.cte === "7bit" && t.boundaries.some((b) => part.body.includes(b))) return undefined;
  }
  let raw = "";
  for (const piece of t.pieces) {
    if (typeof piece === "string") raw += piece;
    else if (piece.slot === "subject") raw += subjectLine(join(t.subject as Segments, vars, headerSafe));
    else {
      const part = parts[piece.part] as EncodedPart;
      raw += piece.slot === "cte" ? part.cte : part.body;
    }
  }
  if (!raw.endsWith("\n")) raw += raw.endsWith("\r") ? "\n" : "\r\n";
  const headerEnd = raw.indexOf("\r\n\r\n") + 2;
  // The body's UTF-8 is already bytes in latin1 form only for the static pieces; the encoded
  // parts are ASCII, and a 7bit part is ASCII by definition (isPlainText).
  return { headers: raw.slice(0, headerEnd), body: Buffer.from(raw.slice(headerEnd), "latin1"), hasTo: t.hasTo, hasListUnsubscribe: t.hasListUnsubscribe };
}
