/**
 * Base64 as mail clients send it: the alphabet with line breaks anywhere, at most two `=`
 * of padding, then trailing whitespace. One pass over the string; the regex this replaces
 * (`[A-Za-z0-9+/\r\n]*={0,2}\s*`) overlapped on CR/LF and took seconds on 64K newlines.
 */
export function isBase64(s: string): boolean {
  let phase: "data" | "padding" | "trailer" = "data";
  let pad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const space = c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a || c === 0x0b || c === 0x0c;
    if (phase === "data") {
      const alphabet = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2f;
      if (alphabet || c === 0x0d || c === 0x0a) continue;
      if (c === 0x3d) {
        phase = "padding";
        pad = 1;
        continue;
      }
    } else if (phase === "padding" && c === 0x3d && pad < 2) {
      pad++;
      continue;
    }
    if (!space) return false;
    phase = "trailer";
  }
  return true;
}
