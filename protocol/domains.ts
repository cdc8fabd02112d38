import { z } from "zod";
import { normalizeDomain } from "./domain.ts";
import { Tenant } from "./schemas/delivery.ts";

/**
 * Sender domains (pure part): what is stored per (tenant, domain), the DNS records a tenant
 * publishes, and how what DNS answered is judged. The DNS lookups live in domains-dns.ts,
 * the KV reads and writes in domains-store.ts / domains-service.ts.
 *
 * A domain is `verified` when the DKIM TXT record of its active selector carries the
 * public key Sluice holds: that is the record that proves control of the zone and the
 * one the signatures depend on. SPF, DMARC and the return-path MX are checked and shown
 * (what is missing), but do not block sending: many zones already have an SPF record
 * that a tenant merges by hand.
 */

export const DOMAIN_STATUSES = ["pending", "verified", "failed"] as const;
export type DomainStatus = (typeof DOMAIN_STATUSES)[number];

export const RECORD_PURPOSES = ["dkim", "spf", "dmarc", "return_path", "return_path_spf"] as const;
export type RecordPurpose = (typeof RECORD_PURPOSES)[number];

export const Selector = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "is not a DKIM selector (a DNS label: a-z, 0-9, -)");

/** A sender domain as the API takes it: canonical form (lower case, A-labels, no trailing dot). */
export const SenderDomain = z.string().max(253).transform((s, ctx) => {
  const d = normalizeDomain(s);
  if (d === undefined || !d.includes(".")) {
    ctx.addIssue({ code: "custom", message: `"${s}" is not a domain name` });
    return z.NEVER;
  }
  return d;
});

/**
 * One DKIM key of a domain. `active` signs; `next` is published by the tenant after a
 * rotation and becomes active once DNS shows it; `retiring` is the old one, still
 * published until `retireAt` so that mail signed with it in flight still verifies.
 */
export const DkimKeyEntry = z
  .object({
    selector: Selector,
    /** Base64 of the SubjectPublicKeyInfo DER: the p= of the TXT record. */
    publicKey: z.string().min(1),
    /** The private key, sealed with SLUICE_SECRET_KEY (secret-box.ts); never leaves Sluice. */
    sealedKey: z.string().min(1),
    state: z.enum(["active", "next", "retiring"]),
    uploaded: z.boolean(),
    createdAt: z.number().int(),
    retireAt: z.number().int().optional(),
  })
  .strict();
export type DkimKeyEntry = z.infer<typeof DkimKeyEntry>;

/** What one lookup found for one expected record. */
export const RecordCheck = z
  .object({
    name: z.string(),
    type: z.enum(["TXT", "MX"]),
    purpose: z.enum(RECORD_PURPOSES),
    selector: z.string().optional(),
    ok: z.boolean(),
    /** The values found at that name (TXT strings joined per record, MX exchanges). */
    found: z.array(z.string()),
    /** Why it is not ok, in words: missing, a different key, a lookup failure. */
    problem: z.string().optional(),
  })
  .strict();
export type RecordCheck = z.infer<typeof RecordCheck>;

/** KV `sluice_domains`, key `t.<tenant>.<domain>`. */
export const DomainEntry = z
  .object({
    v: z.literal(1),
    tenant: Tenant,
    domain: z.string().min(1),
    status: z.enum(DOMAIN_STATUSES),
    keys: z.array(DkimKeyEntry).min(1),
    createdAt: z.number().int(),
    updatedAt: z.number().int(),
    verifiedAt: z.number().int().optional(),
    checkedAt: z.number().int().optional(),
    /** Why the last check did not verify (or un-verified) the domain. */
    reason: z.string().optional(),
    checks: z.array(RecordCheck).optional(),
  })
  .strict();
export type DomainEntry = z.infer<typeof DomainEntry>;

/** KV `sluice_domains`, key `o.<domain>`: the one tenant that has the domain verified. */
export const DomainOwner = z.object({ tenant: Tenant, at: z.number().int() }).strict();
export type DomainOwner = z.infer<typeof DomainOwner>;

/** POST /v1/domains. `dkim` uploads the tenant's own RSA key instead of one Sluice generates. */
export const CreateDomainRequest = z
  .object({
    domain: SenderDomain,
    dkim: z
      .object({
        selector: Selector.optional(),
        privateKey: z.string().min(100, "must be a PEM private key").max(20_000),
      })
      .strict()
      .optional(),
  })
  .strict();
export type CreateDomainRequest = z.infer<typeof CreateDomainRequest>;

export const domainKeys = {
  entry: (tenant: string, domain: string): string => `t.${tenant}.${domain}`,
  tenantFilter: (tenant: string): string => `t.${tenant}.>`,
  allEntries: "t.>",
  owner: (domain: string): string => `o.${domain}`,
};

/** What the operator configures about the records (SLUICE_SPF_INCLUDE, SLUICE_INBOUND_MX). */
export interface RecordSettings {
  /** SPF mechanisms for Sluice's sending hosts, e.g. ["include:_spf.example.net"] or ["ip4:203.0.113.5"]. */
  spf: readonly string[];
  /** The host receiving bounces: the MX of `bounces.<domain>`. */
  inboundHost: string;
}

export interface DnsRecord {
  type: "TXT" | "MX";
  name: string;
  /** TXT: the whole text; MX: the exchange host. */
  value: string;
  purpose: RecordPurpose;
  /** True for the records verification waits for. */
  required: boolean;
  selector?: string;
  /** TXT: the value as DNS character-strings of at most 255 bytes each (RFC 1035 §3.3). */
  strings?: string[];
  /** MX preference. */
  priority?: number;
  /** The record as one zone-file line. */
  zone: string;
}

/** The host part of an SPF setting: a bare name means `include:` it. */
export function spfMechanisms(setting: string): string[] {
  return setting
    .split(/[\s,]+/)
    .map((m) => m.trim())
    .filter((m) => m !== "")
    .map((m) => (/^[~+?-]?(include|ip4|ip6|a|mx|exists|redirect)[:=]/i.test(m) || /^[~+?-]?(a|mx)$/i.test(m) ? m : `include:${m}`));
}

/** Cut a TXT value into character-strings of at most 255 bytes (UTF-8), never inside a character. */
export function txtStrings(value: string, max = 255): string[] {
  const out: string[] = [];
  let current = "";
  let bytes = 0;
  for (const ch of value) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) {
      out.push(current);
      current = "";
      bytes = 0;
    }
    current += ch;
    bytes += n;
  }
  if (current !== "" || out.length === 0) out.push(current);
  return out;
}

export const dkimRecordValue = (publicKey: string): string => `v=DKIM1; k=rsa; p=${publicKey}`;
export const dkimRecordName = (selector: string, domain: string): string => `${selector}._domainkey.${domain}`;
export const spfRecordValue = (s: RecordSettings): string => `v=spf1 ${s.spf.join(" ")} ~all`;
export const dmarcRecordValue = (domain: string): string => `v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain}`;
export const returnPathName = (domain: string): string => `bounces.${domain}`;

const quoted = (strings: string[]): string => strings.map((s) => `"${s.replace(/(["\\])/g, "\\$1")}"`).join(" ");

function txt(name: string, value: string, purpose: RecordPurpose, required: boolean, selector?: string): DnsRecord {
  const strings = txtStrings(value);
  const r: DnsRecord = { type: "TXT", name, value, purpose, required, strings, zone: `${name}. IN TXT ${quoted(strings)}` };
  if (selector !== undefined) r.selector = selector;
  return r;
}

/** Every record the tenant should publish for a domain, DKIM first (one per published key). */
export function domainRecords(entry: Pick<DomainEntry, "domain" | "keys">, s: RecordSettings): DnsRecord[] {
  const d = entry.domain;
  const dkim = entry.keys.map((k) => txt(dkimRecordName(k.selector, d), dkimRecordValue(k.publicKey), "dkim", k.state !== "retiring", k.selector));
  const mxHost = s.inboundHost.replace(/\.$/, "");
  const mx: DnsRecord = { type: "MX", name: returnPathName(d), value: mxHost, priority: 10, purpose: "return_path", required: false, zone: `${returnPathName(d)}. IN MX 10 ${mxHost}.` };
  // The return path's own SPF: the envelope sender's domain is what SPF checks.
  const returnPathSpf = txt(returnPathName(d), spfRecordValue(s), "return_path_spf", false);
  return [...dkim, txt(d, spfRecordValue(s), "spf", false), txt(`_dmarc.${d}`, dmarcRecordValue(d), "dmarc", false), mx, returnPathSpf];
}

/**
 * The bounce domain for a sender domain's mail: `bounces.<domain>` once the domain is verified
 * and both its MX (to our inbound server) and its SPF were seen in DNS, so that SPF passes for
 * the envelope sender and aligns with the From domain, and bounces reach us. Undefined
 * otherwise: the mail keeps the operator's SLUICE_BOUNCE_DOMAIN, which is always reachable.
 */
export function returnPathDomainOf(entry: Pick<DomainEntry, "domain" | "status" | "checks">): string | undefined {
  if (entry.status !== "verified") return undefined;
  const seen = (purpose: RecordPurpose): boolean => entry.checks?.some((c) => c.purpose === purpose && c.ok) ?? false;
  return seen("return_path") && seen("return_path_spf") ? returnPathName(entry.domain) : undefined;
}

/** The tags of a DKIM or DMARC record: `v=DKIM1; k=rsa; p=...` → {v, k, p}; whitespace inside values removed. */
export function recordTags(value: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ""));
  }
  return tags;
}

/** What DNS answered for one name: TXT records (each joined from its strings), MX exchanges, or why the lookup failed. */
export type Answer = { ok: true; values: string[] } | { ok: false; missing: boolean; error: string };

const MAX_FOUND = 10;
const MAX_FOUND_CHARS = 1024;

/** Judge one expected record against what DNS answered. */
export function checkRecord(record: DnsRecord, answer: Answer): RecordCheck {
  const base = { name: record.name, type: record.type, purpose: record.purpose, ...(record.selector === undefined ? {} : { selector: record.selector }) };
  if (!answer.ok) return { ...base, ok: false, found: [], problem: answer.missing ? `no ${record.type} record at ${record.name}` : `lookup failed: ${answer.error}` };
  // DNS answers are outside input: judged whole, but stored and shown bounded.
  const found = answer.values.slice(0, MAX_FOUND).map((v) => (v.length > MAX_FOUND_CHARS ? `${v.slice(0, MAX_FOUND_CHARS)}…` : v));
  const matches = (v: string): boolean => {
    switch (record.purpose) {
      case "dkim": {
        const tags = recordTags(v);
        return tags.get("p") === recordTags(record.value).get("p") && (tags.get("v") ?? "DKIM1") === "DKIM1";
      }
      case "spf":
      case "return_path_spf": {
        const words = v.trim().toLowerCase().split(/\s+/);
        const wanted = spfMechanisms(record.value.replace(/^v=spf1\s+/i, "").replace(/\s+~all$/, ""));
        return words[0] === "v=spf1" && wanted.every((m) => words.some((w) => w.replace(/^[+]/, "") === m.toLowerCase()));
      }
      case "dmarc":
        return /^v=DMARC1\s*;/i.test(v.trim());
      case "return_path":
        return v.replace(/\.$/, "").toLowerCase() === record.value.toLowerCase();
    }
  };
  if (answer.values.some(matches)) return { ...base, ok: true, found };
  const problem =
    found.length === 0
      ? `no ${record.type} record at ${record.name}`
      : record.purpose === "dkim"
        ? `the TXT record at ${record.name} carries a different key`
        : `no ${record.type} record at ${record.name} with the expected value`;
  return { ...base, ok: false, found, problem };
}

/**
 * The domain after a check: the next key becomes active once its record is seen (the old
 * one retires after `graceMs`), retired keys past their time are dropped, and the status
 * follows the active key's record. A verified domain whose record is gone is `failed`;
 * a pending one stays pending until its record appears.
 */
export function afterCheck(entry: DomainEntry, checks: RecordCheck[], now: number, graceMs: number): DomainEntry {
  const seen = (selector: string): RecordCheck | undefined => checks.find((c) => c.purpose === "dkim" && c.selector === selector);
  let keys = entry.keys.filter((k) => !(k.state === "retiring" && k.retireAt !== undefined && k.retireAt <= now));
  const next = keys.find((k) => k.state === "next");
  if (next !== undefined && seen(next.selector)?.ok === true) {
    keys = keys.map((k): DkimKeyEntry => {
      if (k === next) return { ...k, state: "active" };
      if (k.state === "active") return { ...k, state: "retiring", retireAt: now + graceMs };
      return k;
    });
  }
  const active = keys.find((k) => k.state === "active");
  const check = active === undefined ? undefined : seen(active.selector);
  const ok = check?.ok === true;
  const out: DomainEntry = { ...entry, keys, checks, checkedAt: now, updatedAt: now };
  delete out.reason;
  if (ok) {
    out.status = "verified";
    if (entry.status !== "verified") out.verifiedAt = now;
  } else {
    out.status = entry.status === "pending" ? "pending" : "failed";
    out.reason = check?.problem ?? "no active DKIM key";
  }
  return out;
}

/** The active (signing) key of a domain. */
export const activeKey = (entry: Pick<DomainEntry, "keys">): DkimKeyEntry | undefined => entry.keys.find((k) => k.state === "active");

/** What the API shows of a domain: never a private key. */
export function domainView(entry: DomainEntry, s: RecordSettings) {
  const records = domainRecords(entry, s).map((r) => {
    const c = entry.checks?.find((x) => x.name === r.name && x.type === r.type && x.selector === r.selector);
    const { zone, ...rest } = r;
    return { ...rest, zone, status: c === undefined ? "unchecked" : c.ok ? "ok" : "missing", ...(c === undefined ? {} : { found: c.found }), ...(c?.problem === undefined ? {} : { problem: c.problem }) };
  });
  return {
    domain: entry.domain,
    status: entry.status,
    selector: activeKey(entry)?.selector,
    records,
    missing: records.filter((r) => r.status !== "ok").map((r) => r.purpose + (r.selector ? `:${r.selector}` : "")),
    createdAt: entry.createdAt,
    ...(entry.verifiedAt === undefined ? {} : { verifiedAt: entry.verifiedAt }),
    ...(entry.checkedAt === undefined ? {} : { checkedAt: entry.checkedAt }),
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
  };
}
export type DomainView = ReturnType<typeof domainView>;

/**
 * Webhook events of a domain's state (subscribed like the message events: POST
 * /v1/webhooks {"events": ["domain.verified", "domain.failed"]}). They are not message
 * events: no message id, never in the status index; their webhook lane is the domain's.
 */
export const DOMAIN_EVENT_TYPES = ["domain.verified", "domain.failed"] as const;

export const DomainEvent = z
  .object({
    v: z.literal(1),
    /** Deterministic per transition: every node that sees it publishes the same id, stored once. */
    id: z.string().min(1).max(400),
    type: z.enum(DOMAIN_EVENT_TYPES),
    tenant: Tenant,
    domain: z.string().min(1),
    at: z.number().int(),
    reason: z.string().optional(),
    missing: z.array(z.string()).optional(),
  })
  .strict();
export type DomainEvent = z.infer<typeof DomainEvent>;

/** The event of a stored change from `previous` to the entry's status, if it is one worth telling. */
export function domainEventOf(previous: DomainStatus | undefined, entry: DomainEntry, s: RecordSettings): DomainEvent | undefined {
  if (previous === undefined || previous === entry.status || entry.status === "pending") return undefined;
  const type = entry.status === "verified" ? "domain.verified" : "domain.failed";
  const event: DomainEvent = { v: 1, id: `${entry.tenant}.${entry.domain}.${type}.${entry.updatedAt}`, type, tenant: entry.tenant, domain: entry.domain, at: entry.updatedAt };
  if (entry.reason !== undefined) event.reason = entry.reason;
  const missing = domainView(entry, s).missing;
  if (missing.length > 0) event.missing = missing;
  return event;
}
