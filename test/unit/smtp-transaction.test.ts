import { test } from "node:test";
import assert from "node:assert/strict";
import DataStream from "nodemailer/lib/smtp-connection/data-stream";
import { dataChunks, dataSection, vouchCrlf } from "../../actors/smtp/dot-stuff.ts";

/** What nodemailer's DataStream makes of the same bytes (the reference). */
function viaNodemailer(raw: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = new DataStream();
    const out: Buffer[] = [];
    s.on("data", (c: Buffer) => out.push(c));
    s.on("end", () => resolve(Buffer.concat(out)));
    s.on("error", reject);
    s.end(raw);
  });
}

test("the DATA section is what nodemailer's DataStream writes: CRLF line ends, dots stuffed, the terminator", async () => {
  const cases = [
    "Subject: x\r\n\r\nbody\r\n",
    "Subject: x\r\n\r\nbody",
    "Subject: x\r\n\r\nbody\r",
    ".starts with a dot\r\n..two\r\n",
    "bare\nLF\nlines\n.dot after LF\n",
    "bare\rCR\r.dot after CR\r\n",
    "mixed\r\n.\r\n.\n\r.\r\rend",
    "",
    ".",
    "\n",
  ];
  // And random bytes from an alphabet of the interesting ones.
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let k = 0; k < 300; k++) cases.push(Array.from({ length: Math.floor(rnd() * 40) }, () => "ab.\r\n"[Math.floor(rnd() * 5)]).join(""));
  for (const c of cases) {
    const raw = Buffer.from(c, "latin1");
    assert.deepEqual(dataSection(raw), await viaNodemailer(raw), JSON.stringify(c));
  }
});

test("a message whose body is vouched CRLF-only is stuffed as nodemailer does: only its header block is scanned in full", async () => {
  let seed = 3;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = (alphabet: string[], n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join("");
  for (let k = 0; k < 400; k++) {
    // Headers from any bytes (a bare LF, a dot at a line start), the body from CRLF-only pieces.
    const headers = pick(["H", ".", "\r\n", "\n", "\r", ":"], Math.floor(rnd() * 12));
    const body = pick(["b", ".", "\r\n", "\r\n.", ".."], Math.floor(rnd() * 30));
    const raw = Buffer.from(headers + body, "latin1");
    const vouched = vouchCrlf(Buffer.from(raw), headers.length);
    assert.deepEqual(Buffer.concat(dataChunks(vouched)), await viaNodemailer(raw), JSON.stringify([headers, body]));
  }
});
