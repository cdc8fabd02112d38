import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import {
  classifyReply,
  messageEvent,
  SIMULATOR_DOMAIN,
  SIMULATOR_SOFT_BOUNCES,
  simulatorScenario,
  type Attempt,
  type SmtpReply,
  type Suppression,
} from "../../protocol/index.ts";
import { addSuppression, publishEvent } from "../../protocol/io/index.ts";
import type { Job, SendResult } from "../domain/job.ts";
import type { SuppressionCache } from "../suppression-cache.ts";

export interface SimulatorDeps {
  js: JetStreamClient;
  suppressions: KV;
  suppressionCache: SuppressionCache;
  /** The attempts made before this one (the settler's history: message + attempts KV). */
  priorAttempts(job: Job): Promise<Attempt[]>;
  logger: Logger;
  /** `slow@`: how long the "remote" takes; complaint/auto-reply: how long after the delivery. */
  slowMs?: number;
  followUpMs?: number;
  /** `softbounce@`: when the deferred message comes back (instead of the retry schedule's minutes). */
  softRetryMs?: number;
}

const MX = SIMULATOR_DOMAIN;
const reply = (code: number, enhanced: string, text: string): SmtpReply => ({ code, enhanced, text: `${enhanced} ${text} (simulated)` });
const OK = reply(250, "2.0.0", "OK: queued");
const UNKNOWN_USER = reply(550, "5.1.1", "The email account that you tried to reach does not exist");
const TRY_LATER = reply(451, "4.2.0", "Mailbox temporarily unavailable");

/**
 * The node's own "remote" for `<scenario>@simulator.invalid`: it stands where SMTP would be
 * (the destination actor calls it instead of the pool), so everything around it — the
 * destination's queue and budget, settle, events, status, webhooks, metrics — is the real
 * thing. Replies go through the real classifier. Follow-up events (a complaint, an
 * auto-reply) are published a moment after the delivery by a timer: a node that stops in
 * between loses them, which is acceptable for a simulator and keeps JetStream out of it.
 */
export class Simulator {
  /** Follow-ups not yet published: run at once on close rather than lost. */
  readonly #pending = new Map<NodeJS.Timeout, () => Promise<void>>();

  constructor(private readonly d: SimulatorDeps) {}

  async send(job: Job): Promise<SendResult> {
    const scenario = simulatorScenario(job.message.rcptTo);
    switch (scenario) {
      case "success":
        return delivered();
      case "slow":
        await new Promise((r) => setTimeout(r, this.d.slowMs ?? 3000));
        return delivered();
      case "softbounce": {
        const prior = (await this.d.priorAttempts(job)).length;
        if (prior >= SIMULATOR_SOFT_BOUNCES) return delivered();
        return { ...failed(TRY_LATER), retryInMs: this.d.softRetryMs ?? 2000 };
      }
      case "complaint":
      case "ooto":
        this.#later(job, scenario === "complaint" ? "complained" : "auto_replied");
        return delivered();
      default:
        // bounce@, and any other address at simulator.invalid: no such mailbox.
        return failed(UNKNOWN_USER);
    }
  }

  /** The event that would come back from the recipient's side after the delivery. */
  #later(job: Job, type: "complained" | "auto_replied"): void {
    const run = (): Promise<void> => {
      this.#pending.delete(timer);
      return this.#followUp(job, type).catch((err: unknown) => this.d.logger.warn({ err, messageId: job.message.id, type }, "simulator: follow-up event not published"));
    };
    const timer = setTimeout(() => void run(), this.d.followUpMs ?? 1000);
    this.#pending.set(timer, run);
  }

  async #followUp(job: Job, type: "complained" | "auto_replied"): Promise<void> {
    const m = job.message;
    const at = Date.now();
    if (type === "complained") {
      // A complaint suppresses the address, as a real feedback report does.
      const s: Suppression = { address: m.rcptTo.toLowerCase(), reason: "complaint", detail: "simulated feedback report", at };
      await addSuppression(this.d.suppressions, m.tenant, s);
      this.d.suppressionCache.remember(m.tenant, m.rcptTo, s);
    }
    await publishEvent(this.d.js, { ...messageEvent(m, type, at), reason: type === "complained" ? "abuse" : "out_of_office" });
  }

  async close(): Promise<void> {
    const now = [...this.#pending.entries()];
    for (const [t] of now) clearTimeout(t);
    await Promise.all(now.map(([, run]) => run()));
  }
}

const delivered = (): SendResult => ({ kind: "delivered", mx: MX, reply: OK });
const failed = (r: SmtpReply): SendResult & { kind: "failed" } => ({ kind: "failed", mx: MX, reply: r, classification: classifyReply(r), error: `${r.code} ${r.text}` });

/** `suppressed@simulator.invalid` is refused before any send, as a suppressed address is. */
export function simulatedSuppression(rcptTo: string): Suppression | undefined {
  if (simulatorScenario(rcptTo) !== "suppressed") return undefined;
  return { address: rcptTo.toLowerCase(), reason: "manual", detail: "simulator: always suppressed", at: 0 };
}
