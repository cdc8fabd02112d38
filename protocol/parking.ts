import { fnv1a32 } from "./partition.ts";

/**
 * Parking (issue 17): a destination that cannot start a message within its queue's horizon
 * has it moved to MAIL_PARKED under `mail.parked.<partition>.<destination token>`, and pulls
 * it from there (a consumer filtered to that subject) only as its queue drains. Pure helpers: the subject token of a
 * destination key and back, the durable name of its unparking consumer, and the headers a
 * parked message carries.
 */

/** Deliveries of the message before this copy (a republished copy starts again at 1 in JetStream). */
export const PARKED_DELIVERIES_HEADER = "Sluice-Deliveries";
/** The tier of a parked message, so it is put back on its own tier's subject without decoding it. */
export const PARKED_TIER_HEADER = "Sluice-Tier";

// A subject token may not hold '.', '*', '>' or white space. Destination keys are domains
// (A-labels) or `mx:<group>`: '.' becomes '~', and any other byte outside [a-z0-9:-] is
// written as `_hh`, so the token reads back to exactly the key.
const PLAIN = /[a-z0-9:-]/;

export function destinationToken(key: string): string {
  let out = "";
  for (const ch of key) {
    if (ch === ".") out += "~";
    else if (PLAIN.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, "utf8")) out += `_${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

export function destinationOfToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i] as string;
    if (ch === "~") bytes.push(0x2e);
    else if (ch === "_") {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(ch.charCodeAt(0));
  }
  return Buffer.from(bytes).toString("utf8");
}

/**
 * The durable consumer that unparks one (partition, destination): the same name on every
 * node, so that two nodes draining it across a hand-over share one work-queue consumer
 * (a work-queue stream refuses a second consumer with the same filter).
 */
export const parkedConsumerName = (partition: number, token: string): string =>
  token.length <= 80 ? `parked_${partition}_${token}` : `parked_${partition}_${token.slice(0, 64)}_${fnv1a32(token).toString(16)}`;

/** The partition and destination token of a parked subject; undefined for anything else. */
export function parseParkedSubject(subject: string): { partition: number; token: string } | undefined {
  const parts = subject.split(".");
  if (parts.length !== 4 || parts[0] !== "mail" || parts[1] !== "parked") return undefined;
  const partition = Number(parts[2]);
  if (!Number.isInteger(partition) || partition < 0) return undefined;
  return { partition, token: parts[3] as string };
}
