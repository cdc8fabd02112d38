import DKIM from "nodemailer/lib/dkim";
import type SMTPConnection from "nodemailer/lib/smtp-connection";
import type { Logger } from "pino";
import { classifyNetworkError, classifyReply, errorMessage, parseSmtpReply, throttledLimit, unsubscribeToken, type Classification, type DeliveryMessage, type Policy } from "../../protocol/index.ts";
import type { Job, SendResult } from "../domain/job.ts";
import type { ChosenSource } from "../egress/index.ts";
import type { PayloadCache } from "../payload-cache.ts";
import type { MxHost } from "../routing/index.ts";
import { DomainMemo } from "../domain-memo.ts";
import { type DkimKeys, type DkimKey } from "./dkim.ts";
import { envelopeOf, envelopeSenderOf, SMTPUTF8_UNSUPPORTED, type ReturnPath } from "./envelope.ts";
import { feedbackIdOf, listUnsubscribeFor, render, SIGNED_HEADER_FIELDS } from "./mime.ts";
import { SMTPUTF8_REFUSED, SmtpPool, type SmtpError } from "./pool.ts";

export interface SenderOptions {
  ehloName: string;
  /** Keys by (tenant, sender domain): a tenant signs only with its own. */
  dkim: DkimKeys;
  /** URL template for List-Unsubscribe on bulk mail; undefined = none (unless the client set one). */
  listUnsubscribe: string | undefined;
  logger: Logger;
  /** Socket timeouts; tests shorten them. */
  timeoutMs?: number;
  /** VERP return path (SLUICE_BOUNCE_DOMAIN); undefined = the From address is the envelope sender. */
  returnPath?: ReturnPath | undefined;
  /** One-click unsubscribe links on bulk mail: `<publicUrl>/v1/unsubscribe/<token>` (SLUICE_PUBLIC_URL). */
  unsubscribe?: { key: Buffer; publicUrl: string } | undefined;
}

/**
 * SMTP sending: one connection pool per (destination, MX host), sized by the destination's
 * policy (maxConnections, maxMessagesPerConnection); the destination actor never asks for
 * more concurrent sends than its cap, so the pool never opens more connections than the
 * policy allows. Messages go out as pre-rendered bytes (DKIM-signed when a key is set).
 */
export class SmtpSender {
  #pools = new Map<string, { pool: SmtpPool; lastUsed: number; destination: string }>();
  /** The pools of each destination (one per host and egress source). */
  #byDestination = new Map<string, Set<SmtpPool>>();
  // One signer per key object: a rotated key is a new object, so its signer is new too.
  #signers = new WeakMap<DkimKey, DKIM>();
  #sweeper: NodeJS.Timeout;

  constructor(private readonly o: SenderOptions, private readonly payloads: PayloadCache) {
    // Pools of destinations that went quiet are closed; their connections would idle out anyway.
    this.#sweeper = setInterval(() => this.#closeIdle(5 * 60_000), 60_000);
    this.#sweeper.unref();
  }

  async send(destinationKey: string, job: Job, host: MxHost, policy: Policy, source?: ChosenSource): Promise<SendResult> {
    const m = job.message;
    let raw: Buffer;
    try {
      const template = await this.payloads.templateFor(m.payload, m.vars);
      const fromDomain = this.#senderDomains.of(m.mailFrom);
      raw = render(template, m, { messageIdDomain: fromDomain, now: Date.now(), ...this.#bulkHeaders(m) });
    } catch (e) {
      const permanent = typeof e === "object" && e !== null && (e as { kind?: string }).kind === "permanent";
      return {
        kind: "failed",
        mx: undefined,
        classification: { outcome: permanent ? "bounce" : "retry", category: "other", throttle: false },
        error: `could not build the message: ${errorMessage(e)}`,
      };
    }
    const envelope = envelopeOf(envelopeSenderOf(m, this.o.returnPath), m.rcptTo);
    if (!envelope.ok) return { kind: "failed", mx: undefined, classification: { outcome: "bounce", category: "other", throttle: false }, error: envelope.error };
    const pool = this.#pool(destinationKey, host, policy, source);
    const signer = this.o.dkim.size === 0 ? undefined : this.#signer(m.tenant, this.#senderDomains.of(m.mailFrom));
    try {
      if (signer) raw = await signed(signer, raw);
      this.#makeRoom(destinationKey, pool, source?.destinationLimit ?? policy.maxConnections);
      const response = await pool.send(envelope.from, envelope.to, raw, envelope.needsSmtpUtf8);
      return { kind: "delivered", mx: host.host, reply: parseSmtpReply(response, 250), working: pool.working };
    } catch (e) {
      const failed = failureOf(e as SmtpError, host.host, pool.working);
      const unusable = source === undefined ? undefined : sourceUnusable(e as SmtpError);
      if (unusable !== undefined) failed.sourceUnavailable = unusable;
      return failed;
    }
  }

  #senderDomains = new DomainMemo(10_000, "sluice.invalid");

  /** List-Unsubscribe (signed one-click link, else the operator's template; the VERP address as mailto) and Feedback-ID, for bulk mail. */
  #bulkHeaders(m: DeliveryMessage): { listUnsubscribe: string | undefined; listUnsubscribeMailto?: string; feedbackId?: string } {
    if (m.tier !== "bulk") return { listUnsubscribe: undefined };
    const u = this.o.unsubscribe;
    const https = u === undefined ? listUnsubscribeFor(this.o.listUnsubscribe, m) : `${u.publicUrl}/v1/unsubscribe/${unsubscribeToken(u.key, { tenant: m.tenant, recipientId: m.id, address: m.rcptTo })}`;
    const out: { listUnsubscribe: string | undefined; listUnsubscribeMailto?: string; feedbackId?: string } = { listUnsubscribe: https, feedbackId: feedbackIdOf(m) };
    // The VERP address takes unsubscribe mail too: the inbound role reads "unsubscribe" mail to it.
    if (this.o.returnPath !== undefined && https !== undefined) out.listUnsubscribeMailto = `mailto:${envelopeSenderOf(m, this.o.returnPath)}?subject=unsubscribe`;
    return out;
  }

  // The key of (tenant, sender domain), if any, and its signer.
  #signer(tenant: string, domain: string): DKIM | undefined {
    const key = this.o.dkim.get(tenant, domain);
    if (key === undefined) return undefined;
    let s = this.#signers.get(key);
    if (s === undefined) {
      s = new DKIM({ ...key, headerFieldNames: SIGNED_HEADER_FIELDS });
      this.#signers.set(key, s);
    }
    return s;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const p of this.#pools.values()) p.pool.close();
    this.#pools.clear();
    this.#byDestination.clear();
  }

  /**
   * A destination's pools (one per egress source) keep to its connection cap together: the
   * actor never has more sends in flight than the cap, but each pool keeps its idle sessions,
   * and the destination counts open ones. So before a pool with nothing idle opens a session
   * while the destination is at its cap, a sibling's idle session closes. Synchronous up to
   * `pool.send`, which opens the session: nothing runs in between.
   */
  #makeRoom(destinationKey: string, pool: SmtpPool, maxConnections: number): void {
    const siblings = this.#byDestination.get(destinationKey);
    if (siblings === undefined || siblings.size < 2 || pool.idle > 0) return;
    let open = 0;
    for (const p of siblings) open += p.open;
    if (open < maxConnections) return;
    for (const p of siblings) if (p !== pool && p.closeIdle()) return;
  }

  #forget(key: string): void {
    const entry = this.#pools.get(key);
    if (entry === undefined) return;
    entry.pool.close();
    this.#pools.delete(key);
    const siblings = this.#byDestination.get(entry.destination);
    siblings?.delete(entry.pool);
    if (siblings?.size === 0) this.#byDestination.delete(entry.destination);
  }

  /**
   * The pool of (destination, host, egress source). A source's pool binds its address and
   * says its EHLO name, and holds at most the source's share of the destination's connections;
   * a source whose address or name changed (live) gets a new pool.
   */
  #pool(destinationKey: string, host: MxHost, policy: Policy, source: ChosenSource | undefined): SmtpPool {
    const key = `${destinationKey}|${host.host}:${host.port}|${source === undefined ? "" : `${source.name}@${source.address}/${source.ehlo}`}`;
    const maxConnections = Math.min(policy.maxConnections, source?.maxConnections ?? Infinity);
    const existing = this.#pools.get(key);
    if (existing && existing.pool.maxConnections >= maxConnections) {
      existing.lastUsed = Date.now();
      return existing.pool;
    }
    this.#forget(key);
    const timeout = this.o.timeoutMs ?? 60_000;
    const pool = new SmtpPool({
      connection: { ...this.#connectionOptions(host, policy), ...(source === undefined ? {} : { localAddress: source.address, name: source.ehlo }) },
      auth: host.auth,
      maxConnections,
      maxMessagesPerConnection: policy.maxMessagesPerConnection,
      idleMs: Math.min(timeout, 60_000),
    });
    this.#pools.set(key, { pool, lastUsed: Date.now(), destination: destinationKey });
    let siblings = this.#byDestination.get(destinationKey);
    if (siblings === undefined) {
      siblings = new Set();
      this.#byDestination.set(destinationKey, siblings);
    }
    siblings.add(pool);
    return pool;
  }

  /** The options of every session to one host. */
  #connectionOptions(host: MxHost, policy: Policy): SMTPConnection.Options {
    const timeout = this.o.timeoutMs ?? 60_000;
    return {
      host: host.address ?? host.host,
      // Connecting to an address looked up with SLUICE_DNS_SERVERS: TLS still names the MX host.
      ...(host.address === undefined ? {} : { servername: host.host }),
      port: host.port,
      secure: host.secure,
      requireTLS: policy.requireTLS,
      // Opportunistic STARTTLS: MX certificates are not validated (RFC 7435), unless TLS is required.
      tls: { rejectUnauthorized: policy.requireTLS },
      name: this.o.ehloName,
      connectionTimeout: Math.min(timeout, 30_000),
      greetingTimeout: Math.min(timeout, 30_000),
      socketTimeout: timeout,
      logger: false,
    };
  }

  /**
   * Close the pools of the destinations `drop` selects, at once. After a node hands a
   * partition over, its idle connections to that partition's domains would otherwise stay
   * open beside the new owner's and count against the destination's connection limit.
   */
  closePools(drop: (destinationKey: string) => boolean): void {
    for (const [key, p] of this.#pools) if (drop(p.destination)) this.#forget(key);
  }

  #closeIdle(olderThanMs: number): void {
    const now = Date.now();
    for (const [key, p] of this.#pools) if (now - p.lastUsed > olderThanMs) this.#forget(key);
  }
}

/**
 * Binding the source's address failed (Node says `bind EADDRNOTAVAIL <address>`): this host
 * does not have it; or `bind EINVAL`: the address is IPv6 and the destination's IPv4 (or the
 * reverse).
 */
function sourceUnusable(e: SmtpError): "not_on_host" | "wrong_family" | undefined {
  if (e.code === "EADDRNOTAVAIL" || /\bbind EADDRNOTAVAIL\b/.test(e.message)) return "not_on_host";
  if (/\bbind EINVAL\b/.test(e.message)) return "wrong_family";
  return undefined;
}

/** The message as DKIM-signed bytes. */
function signed(signer: DKIM, raw: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const out = signer.sign(raw);
    out.on("data", (c: Buffer) => chunks.push(c));
    out.on("end", () => resolve(Buffer.concat(chunks)));
    out.on("error", reject);
  });
}

/**
 * An SMTP failure as the destination actor sees it: the reply parsed and classified, or a
 * connection-level failure; for a throttle reply, which limit it is about and how many
 * sessions were working when it came (the production path the classification table runs).
 */
export function failureOf(err: SmtpError, mx: string, working: number): SendResult & { kind: "failed" } {
  if (err.code === SMTPUTF8_REFUSED) return { kind: "failed", mx, classification: { outcome: "bounce", category: SMTPUTF8_UNSUPPORTED, throttle: false }, error: `${mx}: ${err.message}` };
  const atGreeting = err.atGreeting === true;
  if (typeof err.responseCode === "number" && err.responseCode >= 200) {
    const reply = parseSmtpReply(err.response ?? err.message, err.responseCode);
    // A 421 refusing the session at the greeting is the destination limiting concurrency
    // whatever its words (RFC 5321 4.3.2: "service not available, closing channel").
    const greeting421 = atGreeting && reply.code === 421;
    const classification: Classification = greeting421 ? { outcome: "retry", category: "throttled", throttle: true } : classifyReply(reply);
    const failed: SendResult & { kind: "failed" } = { kind: "failed", mx, reply, classification, error: err.response ?? err.message };
    if (classification.throttle) {
      failed.limit = throttledLimit(reply, greeting421);
      failed.working = working;
    }
    return failed;
  }
  const cause = /\b(E[A-Z]{3,})\b/.exec(err.message)?.[1];
  const classification = classifyNetworkError({ ...(cause ?? err.code ? { code: cause ?? err.code } : {}), message: err.message });
  // An MX host name that does not resolve is not the recipient domain's absence: retry.
  if (classification.outcome === "bounce") classification.outcome = "retry";
  // Refused, reset, timed out, TLS failing: the destination could not be reached (a network failure).
  return { kind: "failed", mx, classification: { ...classification, category: classification.category === "tls_required" ? "tls_required" : "network" }, error: err.message };
}
