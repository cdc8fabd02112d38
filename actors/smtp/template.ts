import { randomBytes } from "node:crypto";
import * as base64 from "nodemailer/lib/base64";
import * as mimeFuncs from "nodemailer/lib/mime-funcs";
import * as qp from "nodemailer/lib/qp";
import type { Payload } from "../../protocol/index.ts";
import { messageBuffer, recycle } from "./message-buffers.ts";
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
  /** The statics with CRLF line ends as bytes, as a 7bit part goes out (see crlf in mime.ts); only plain (ASCII) ones are ever used. */
  wire: Buffer[];
  /** The wire statics' total length. */
  wireLength: number;
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
type Piece = Buffer | { slot: "subject" } | { slot: "cte" | "body"; part: Part };

export interface CompiledTemplate {
  /** The whole message (headers and body) as static bytes and slots. */
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
  const wire = statics.map((st) => Buffer.from(crlf(st), "latin1"));
  return { statics, wire, wireLength: wire.reduce((n, w) => n + w.length, 0), names, shapes: statics.map(shapeOf) };
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
 * A part for one recipient: 7bit (the wire statics with these values between them, written
 * straight into the message buffer) or an encoded body.
 */
type EncodedPart = { cte: "7bit"; seg: Segments; values: Value[]; length: number } | { cte: "quoted-printable" | "base64"; body: string; length: number };

/** A value as it goes into a part: escaped, measured as the statics are, and with CRLF line ends for 7bit. */
interface Value {
  text: string;
  shape: Shape;
  wire: string;
}

/**
 * A part for one recipient, as nodemailer would send it: 7bit when it can
 * (`isPlainText && !hasLongerLines(76)`), else quoted-printable or base64. The statics were
 * measured once; each distinct value is escaped and measured once per recipient (bench's
 * 100 KB text names {{n}} on every line), and a 7bit part is not joined into one string at
 * all (issue 17: a 100 KB text with a placeholder per line spent most of its fill there).
 */
function fillPart(seg: Segments, vars: Record<string, string>, escape: (s: string) => string): EncodedPart {
  const byName = new Map<string, Value>();
  const values: Value[] = [];
  let sevenBit = true;
  let column = 0;
  let length = seg.wireLength;
  for (let i = 0; i < seg.statics.length; i++) {
    const shape = seg.shapes[i] as Shape;
    if (sevenBit) {
      if (!shape.plain || shape.long || column + shape.head > 76) sevenBit = false;
      column = shape.breaks ? shape.tail : column + shape.head;
    }
    if (i === seg.names.length) break;
    const name = seg.names[i] as string;
    let value = byName.get(name);
    if (value === undefined) {
      const text = escape(vars[name] ?? "");
      const measured = shapeOf(text);
      value = { text, shape: measured, wire: measured.breaks ? crlf(text) : text };
      byName.set(name, value);
    }
    // The same rule as for a static: a value is one more piece of the part's text.
    if (sevenBit) {
      const v = value.shape;
      if (!v.plain || v.long || column + v.head > 76) sevenBit = false;
      column = v.breaks ? v.tail : column + v.head;
    }
    values.push(value);
    length += value.wire.length;
  }
  if (sevenBit && column <= 76) return { cte: "7bit", seg, values, length };
  const content = join(seg.statics, values.map((v) => v.text));
  const cte = textEncoding(content) === "Q" ? "quoted-printable" : "base64";
  const utf8 = Buffer.from(content, "utf8");
  const body = cte === "quoted-printable" ? crlf(qp.wrap(qp.encode(utf8), 76)) : base64.wrap(base64.encode(utf8), 76);
  return { cte, body, length: body.length };
}

/** A 7bit part into the message buffer: every static and every value is plain ASCII. */
function writeSevenBit(buf: Buffer, { seg, values }: { seg: Segments; values: Value[] }, at: number): number {
  for (let i = 0; i < seg.wire.length; i++) {
    const wire = seg.wire[i] as Buffer;
    buf.set(wire, at);
    at += wire.length;
    if (i === values.length) break;
    at = put(buf, (values[i] as Value).wire, at);
  }
  return at;
}

function join(statics: string[], values: string[]): string {
  let out = statics[0] as string;
  for (let i = 0; i < values.length; i++) out += (values[i] as string) + (statics[i + 1] as string);
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
  const cuts: { at: number; end: number; piece: Exclude<Piece, Buffer> }[] = [];
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
  const pieces: (string | Exclude<Piece, Buffer>)[] = [];
  let last = 0;
  for (const c of cuts) {
    pieces.push(raw.slice(last, c.at), c.piece);
    last = c.end;
  }
  // nodemailer ends a message with CRLF unless its last byte is LF already: after a body
  // that ends the message, that depends on the recipient's content (see fill).
  const tail = raw.slice(last);
  if (tail !== "\r\n" || typeof pieces[pieces.length - 1] === "string") pieces.push(tail);
  return pieces.map((piece) => (typeof piece === "string" ? Buffer.from(piece, "latin1") : piece));
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
 * Bytes kept free before a filled message: render() writes the recipient's own header lines
 * (Message-ID, Date, To, List-Unsubscribe...) there instead of copying the message behind them.
 */
const HEADROOM = 1024;
const CR = 0x0d;
const LF = 0x0a;

/**
 * One recipient's template, built straight into one buffer. Returns undefined when the
 * values cannot go into the skeleton as is (a 7bit part that would contain a multipart
 * boundary): the caller builds that recipient the slow way.
 */
export function fill(t: CompiledTemplate, vars: Record<string, string>): MimeTemplate | undefined {
  const parts: Partial<Record<Part, EncodedPart>> = {};
  if (t.text) parts.text = fillPart(t.text, vars, identity);
  if (t.html) parts.html = fillPart(t.html, vars, escapeHtml);
  const subject = t.subject === undefined ? "" : subjectLine(join(t.subject.statics, t.subject.names.map((n) => headerSafe(vars[n] ?? ""))));
  let length = HEADROOM;
  for (const piece of t.pieces) {
    if (Buffer.isBuffer(piece)) length += piece.length;
    else if (piece.slot === "subject") length += subject.length;
    else length += piece.slot === "cte" ? (parts[piece.part] as EncodedPart).cte.length : (parts[piece.part] as EncodedPart).length;
  }
  const buf = messageBuffer(length + 2);
  let at = HEADROOM;
  // Strings here are ASCII (7bit values, encoded parts, the encoded Subject) or latin1 bytes.
  for (const piece of t.pieces) {
    if (Buffer.isBuffer(piece)) {
      buf.set(piece, at);
      at += piece.length;
    } else if (piece.slot === "subject") at = put(buf, subject, at);
    else {
      const part = parts[piece.part] as EncodedPart;
      if (piece.slot === "cte") at = put(buf, part.cte, at);
      else if (part.cte !== "7bit") at = put(buf, part.body, at);
      else {
        const from = at;
        at = writeSevenBit(buf, part, at);
        // A 7bit part must not contain a boundary of the skeleton: that recipient is built whole.
        const written = buf.subarray(from, at);
        if (t.boundaries.some((b) => written.includes(b, 0, "latin1"))) return void recycle(buf);
      }
    }
  }
  // nodemailer ends a message with CRLF unless its last byte is LF already.
  if (at === HEADROOM || buf[at - 1] !== LF) {
    if (at > HEADROOM && buf[at - 1] === CR) buf[at++] = LF;
    else (buf[at++] = CR), (buf[at++] = LF);
  }
  const headerEnd = buf.indexOf("\r\n\r\n", HEADROOM, "latin1") + 2;
  return {
    headers: buf.toString("latin1", HEADROOM, headerEnd),
    body: buf.subarray(headerEnd, at),
    hasTo: t.hasTo,
    hasListUnsubscribe: t.hasListUnsubscribe,
    spare: { bytes: buf.subarray(0, at), at: HEADROOM },
  };
}

// Short strings byte by byte: a native write per value costs more than the copy (1,400 values in bench's 100 KB).
function put(buf: Buffer, c: string, at: number): number {
  if (c.length > 32) return at + buf.write(c, at, "latin1");
  for (let k = 0; k < c.length; k++) buf[at + k] = c.charCodeAt(k);
  return at + c.length;
}
