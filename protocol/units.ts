/**
 * Durations and sizes in configuration are strings a person can read ("15m", "10MB"),
 * parsed once at the edge into milliseconds and bytes.
 */
const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  mb: 1024 ** 2,
  gb: 1024 ** 3,
};

/** "90s" → 90000; "1h30m" → 5400000; a bare number is milliseconds. Undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  // The global match below restarts at every digit: bounded input keeps it linear.
  if (text.length > 64) return undefined;
  const s = text.trim().toLowerCase();
  if (/^\d+$/.test(s)) return Number(s);
  const parts = s.match(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g);
  if (!parts || parts.join("") !== s) return undefined;
  let total = 0;
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(part);
    const unit = m?.[2];
    if (!m || unit === undefined) return undefined;
    total += Number(m[1]) * (DURATION_UNITS[unit] ?? 0);
  }
  return Math.round(total);
}

/** "10MB" → 10485760; a bare number is bytes. Undefined when malformed. */
export function parseSize(text: string): number | undefined {
  if (text.length > 64) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? "b").toLowerCase();
  return Math.round(Number(m[1]) * (SIZE_UNITS[unit] ?? 1));
}

/** 5400000 → "1h30m": for printing configuration back to a person. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
