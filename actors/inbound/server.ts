import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from "smtp-server";
import { parseVerp, subjects } from "../../protocol/index.ts";
import { inboundMetrics } from "./metrics.ts";

/**
 * The inbound SMTP server: where bounces, feedback reports and auto-replies arrive. It takes
 * mail only for the bounce domain — a VERP address (b-…) or the feedback-loop address
 * (fbl@) — so it relays nothing and is no open relay; it offers no AUTH; it limits the
 * message size (SIZE, and the stream's message must fit a NATS message) and the messages per
 * client address per minute. It answers 250 only once the raw message is stored on
 * MAIL_INBOUND (JetStream acknowledged the write): a crash after that loses nothing, a crash
 * before it makes the sender retry.
 */
export interface InboundServerOptions {
  js: JetStreamClient;
  host: string;
  port: number;
  bounceDomains: readonly string[];
  /** Further bounce domains, as they come and go: tenants' own `bounces.<domain>` once published. */
  alsoAccepts?: (domain: string) => boolean;
  maxMessageBytes: number;
  messagesPerMinute: number;
  logger: Logger;
}

/** The envelope travels in NATS headers beside the raw bytes. */
export const INBOUND_HEADERS = { rcptTo: "Sluice-Rcpt-To", mailFrom: "Sluice-Mail-From", client: "Sluice-Client" } as const;

const FEEDBACK_LOCAL = new Set(["fbl", "abuse", "postmaster"]);

type Callback = (err?: Error | null) => void;
const refusal = (code: number, message: string): Error => Object.assign(new Error(message), { responseCode: code });

export async function startInboundServer(o: InboundServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const domains = new Set(o.bounceDomains.map((d) => d.toLowerCase()));
  const perClient = new Map<string, { windowStart: number; count: number }>();
  const log = o.logger;

  const accepts = (address: string): boolean => {
    const at = address.lastIndexOf("@");
    const domain = address.slice(at + 1).toLowerCase();
    if (at <= 0 || !(domains.has(domain) || o.alsoAccepts?.(domain) === true)) return false;
    return FEEDBACK_LOCAL.has(address.slice(0, at).toLowerCase()) || parseVerp(address) !== undefined;
  };

  // A fixed one-minute window per client address: enough to stop a flood, no timers.
  const overRate = (client: string): boolean => {
    const now = Date.now();
    const w = perClient.get(client);
    if (w === undefined || now - w.windowStart >= 60_000) {
      if (perClient.size > 10_000) perClient.clear();
      perClient.set(client, { windowStart: now, count: 1 });
      return false;
    }
    w.count++;
    return w.count > o.messagesPerMinute;
  };

  const server = new SMTPServer({
    name: o.bounceDomains[0] ?? "sluice-inbound",
    banner: "Sluice inbound (bounces and feedback reports only)",
    authOptional: true,
    disabledCommands: ["AUTH"],
    size: o.maxMessageBytes,
    maxClients: 200,
    socketTimeout: 60_000,
    logger: false,
    onMailFrom(_address: SMTPServerAddress, session: SMTPServerSession, cb: Callback) {
      if (overRate(session.remoteAddress)) {
        inboundMetrics.refused.add(1, { reason: "rate" });
        return cb(refusal(450, "4.7.1 Too many messages from your address, slow down"));
      }
      cb();
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, cb: Callback) {
      if (accepts(address.address)) return cb();
      inboundMetrics.refused.add(1, { reason: "recipient" });
      cb(refusal(550, "5.1.1 No such recipient here (this server takes bounces and feedback reports only)"));
    },
    onData(stream, session, cb: Callback) {
      store(o, stream, session, cb);
    },
  });
  server.on("error", (err) => log.warn({ err }, "inbound SMTP server error"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === "object" && address !== null ? address.port : o.port;
  log.info({ host: o.host, port, domains: [...domains] }, "inbound SMTP server listening");
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Read the DATA stream (dropping what is past the limit) and store it on MAIL_INBOUND; 250 only after JetStream acked. */
function store(o: InboundServerOptions, stream: NodeJS.ReadableStream & { sizeExceeded?: boolean }, session: SMTPServerSession, cb: Callback): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  // Past the limit the rest is read and dropped (smtp-server flags sizeExceeded), not held.
  stream.on("data", (c: Buffer) => {
    bytes += c.length;
    if (bytes <= o.maxMessageBytes) chunks.push(c);
  });
  stream.on("end", () => {
    if (stream.sizeExceeded === true || bytes > o.maxMessageBytes) {
      inboundMetrics.refused.add(1, { reason: "size" });
      return cb(refusal(552, "5.3.4 Message too big"));
    }
    const h = natsHeaders();
    h.set(INBOUND_HEADERS.rcptTo, session.envelope.rcptTo.map((r) => r.address).join(","));
    h.set(INBOUND_HEADERS.mailFrom, session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address);
    h.set(INBOUND_HEADERS.client, session.remoteAddress);
    o.js.publish(subjects.inbound, Buffer.concat(chunks), { headers: h }).then(
      () => {
        inboundMetrics.received.add(1);
        cb();
      },
      (err: unknown) => {
        o.logger.warn({ err }, "could not store an inbound message; the sender will retry");
        cb(refusal(451, "4.3.0 Temporary storage failure, try again later"));
      },
    );
  });
}
