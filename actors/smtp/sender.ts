import nodemailer, { type Transporter } from "nodemailer";
import type { Logger } from "pino";
import { classifyNetworkError, classifyReply, domainOf, enhancedCodeOf, type Policy, type SmtpReply } from "../../protocol/index.ts";
import type { Job, SendResult } from "../domain/job.ts";
import type { PayloadCache } from "../payload-cache.ts";
import type { MxHost } from "../routing/index.ts";
import type { DkimKey } from "./dkim.ts";
import { listUnsubscribeFor, render } from "./mime.ts";

export interface SenderOptions {
  ehloName: string;
  dkim: Map<string, DkimKey>;
  /** URL template for List-Unsubscribe on bulk mail; undefined = mailto the sender. */
  listUnsubscribe: string | undefined;
  logger: Logger;
  /** Socket timeouts; tests shorten them. */
  timeoutMs?: number;
}

/** What nodemailer puts on an error. */
interface SmtpErrorLike {
  code?: string;
  responseCode?: number;
  response?: string;
  message: string;
}

/**
 * SMTP sending: one nodemailer pool per (destination, MX host), sized by the destination's
 * policy; the destination actor never asks for more concurrent sends than its cap, so the
 * pool never opens more connections than the policy allows.
 */
export class SmtpSender {
  #pools = new Map<string, { transport: Transporter; maxConnections: number; lastUsed: number }>();
  #sweeper: NodeJS.Timeout;

  constructor(private readonly o: SenderOptions, private readonly payloads: PayloadCache) {
    // Pools of destinations that went quiet are closed; their connections would idle out anyway.
    this.#sweeper = setInterval(() => this.#closeIdle(5 * 60_000), 60_000);
    this.#sweeper.unref();
  }

  async send(destinationKey: string, job: Job, host: MxHost, policy: Policy): Promise<SendResult> {
    const m = job.message;
    let raw: Buffer;
    try {
      const template = await this.payloads.templateFor(m.payload, m.vars);
      const fromDomain = this.#domainOf(m.mailFrom);
      raw = render(template, m, {
        messageIdDomain: fromDomain,
        listUnsubscribe: m.tier === "bulk" ? listUnsubscribeFor(this.o.listUnsubscribe, m) : undefined,
        now: Date.now(),
      });
    } catch (e) {
      const permanent = typeof e === "object" && e !== null && (e as { kind?: string }).kind === "permanent";
      return {
        kind: "failed",
        mx: undefined,
        classification: { outcome: permanent ? "bounce" : "retry", category: "other", throttle: false },
        error: `could not build the message: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
    const transport = this.#pool(destinationKey, host, policy);
    const dkim = this.o.dkim.size === 0 ? undefined : this.o.dkim.get(this.#domainOf(m.mailFrom));
    try {
      const info = (await transport.sendMail({ envelope: { from: m.mailFrom, to: [m.rcptTo] }, raw, ...(dkim ? { dkim } : {}) })) as { response?: string };
      return { kind: "delivered", mx: host.host, reply: parseReply(250, info.response ?? "250 OK") };
    } catch (e) {
      const err = e as SmtpErrorLike;
      if (typeof err.responseCode === "number" && err.responseCode >= 200) {
        const reply = parseReply(err.responseCode, err.response ?? err.message);
        return { kind: "failed", mx: host.host, reply, classification: classifyReply(reply), error: err.response ?? err.message };
      }
      const cause = /\b(E[A-Z]{3,})\b/.exec(err.message)?.[1];
      const classification = classifyNetworkError({ ...(cause ?? err.code ? { code: cause ?? err.code } : {}), message: err.message });
      // An MX host name that does not resolve is not the recipient domain's absence: retry.
      if (classification.outcome === "bounce") classification.outcome = "retry";
      return { kind: "failed", mx: host.host, classification: { ...classification, category: "network" }, error: err.message };
    }
  }

  // Senders repeat across a blast: the IDN-aware domain parse is memoised (bounded).
  #senderDomains = new Map<string, string>();
  #domainOf(address: string): string {
    let d = this.#senderDomains.get(address);
    if (d === undefined) {
      d = domainOf(address) ?? "sluice.invalid";
      if (this.#senderDomains.size > 10_000) this.#senderDomains.clear();
      this.#senderDomains.set(address, d);
    }
    return d;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    for (const p of this.#pools.values()) p.transport.close();
    this.#pools.clear();
  }

  #pool(destinationKey: string, host: MxHost, policy: Policy): Transporter {
    const key = `${destinationKey}|${host.host}:${host.port}`;
    const existing = this.#pools.get(key);
    if (existing && existing.maxConnections >= policy.maxConnections) {
      existing.lastUsed = Date.now();
      return existing.transport;
    }
    existing?.transport.close();
    const timeout = this.o.timeoutMs ?? 60_000;
    const transport = nodemailer.createTransport({
      pool: true,
      host: host.host,
      port: host.port,
      secure: host.secure,
      requireTLS: policy.requireTLS,
      // Opportunistic STARTTLS: MX certificates are not validated (RFC 7435), unless TLS is required.
      tls: { rejectUnauthorized: policy.requireTLS },
      name: this.o.ehloName,
      maxConnections: policy.maxConnections,
      maxMessages: policy.maxMessagesPerConnection,
      connectionTimeout: Math.min(timeout, 30_000),
      greetingTimeout: Math.min(timeout, 30_000),
      socketTimeout: timeout,
      ...(host.auth ? { auth: host.auth } : {}),
      logger: false,
    });
    this.#pools.set(key, { transport, maxConnections: policy.maxConnections, lastUsed: Date.now() });
    return transport;
  }

  /**
   * Close the pools of the destinations `drop` selects, at once. After a node hands a
   * partition over, its idle connections to that partition's domains would otherwise stay
   * open beside the new owner's and count against the destination's connection limit.
   */
  closePools(drop: (destinationKey: string) => boolean): void {
    for (const [key, p] of this.#pools) {
      if (drop(key.slice(0, key.lastIndexOf("|")))) {
        p.transport.close();
        this.#pools.delete(key);
      }
    }
  }

  #closeIdle(olderThanMs: number): void {
    const now = Date.now();
    for (const [key, p] of this.#pools) {
      if (now - p.lastUsed > olderThanMs) {
        p.transport.close();
        this.#pools.delete(key);
      }
    }
  }
}

/** "550 5.1.1 <x>: user unknown" → {code 550, enhanced 5.1.1, text}. Multi-line replies keep their last line's meaning. */
export function parseReply(fallbackCode: number, response: string): SmtpReply {
  const m = /^(\d{3})[ -]?(.*)$/s.exec(response.trim());
  const code = m ? Number(m[1]) : fallbackCode;
  const text = (m ? (m[2] ?? "") : response).replace(/\r?\n\d{3}[ -]/g, " ").trim().slice(0, 1000);
  const enhanced = enhancedCodeOf(text);
  return enhanced === undefined ? { code, text } : { code, enhanced, text };
}
