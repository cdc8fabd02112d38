import { SMTPServer, type SMTPServerSession } from "smtp-server";
import type { Socket } from "node:net";

/**
 * A scriptable SMTP peer for integration tests, built on smtp-server. Behaviour is set per
 * recipient domain (and a default); every accepted message is recorded with its
 * envelope, raw MIME, connection id and time, so tests assert on what a remote MTA saw:
 * content, concurrency, rate.
 */

export interface Reply {
  code: number;
  /** Full reply text, including any enhanced status code: "4.7.0 Try again later". */
  text: string;
}

export interface RcptContext {
  address: string;
  domain: string;
  /** How many times this address has been offered in RCPT TO, this one included (1-based). */
  attempt: number;
  connectionId: string;
}

export interface Behaviour {
  /** Reply to RCPT TO; undefined accepts. */
  rcpt?: (ctx: RcptContext) => Reply | undefined;
  /** Reply after DATA; undefined accepts. `attempt` counts DATA commands for the first recipient. */
  data?: (ctx: RcptContext) => Reply | undefined;
  /** Over this many concurrent connections of this domain, RCPT gets 421 and the connection closes. */
  maxConnections?: number;
  /** Over this many accepted messages in any 1 s window for this domain, RCPT gets 421 4.7.0. */
  maxPerSecond?: number;
  /** Never answer RCPT TO (the client must time out). */
  hang?: boolean;
  /** Close the socket in the middle of DATA, without a reply. */
  dropMidData?: boolean;
  /** Wait this long before answering RCPT and DATA. */
  delayMs?: number;
}

export interface ReceivedMessage {
  connectionId: string;
  domain: string;
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  at: number;
  /** The client asked for SMTPUTF8 in MAIL FROM (RFC 6531). */
  smtpUtf8: boolean;
  /** The client's address (the egress source it bound) and the name it gave in EHLO. */
  remoteAddress: string;
  ehlo: string;
}

export interface SmtpPeerOptions {
  port?: number;
  /** Behaviour for domains without an entry of their own. */
  default?: Behaviour;
  domains?: Record<string, Behaviour>;
  /** Whole-peer cap: over this many open connections, the greeting is 421. */
  maxConnections?: number;
  /** Called with each accepted message (the capture server writes .eml files from here). */
  onMessage?: (message: ReceivedMessage) => void | Promise<void>;
  size?: number;
  /** Do not advertise SMTPUTF8 in the EHLO reply (a server without RFC 6531). */
  hideSMTPUTF8?: boolean;
  /** Do not advertise PIPELINING (a client must send one command per round trip). */
  hidePIPELINING?: boolean;
}

interface ConnState {
  domain: string | undefined;
  socket: Socket | undefined;
}

export class SmtpPeer {
  readonly messages: ReceivedMessage[] = [];
  /** Highest number of concurrent connections seen per domain ("*" for the whole peer). */
  readonly maxConcurrent = new Map<string, number>();
  connectionsOpened = 0;
  readonly rejected: { domain: string; address: string; reply: Reply; at: number }[] = [];
  /** MAIL FROM and RCPT TO lines as the client sent them (smtp-server decodes A-labels in its envelope). */
  readonly envelopeCommands: string[] = [];

  #server: SMTPServer;
  #port = 0;
  #open = new Map<string, ConnState>();
  #rcptAttempts = new Map<string, number>();
  #dataAttempts = new Map<string, number>();
  #acceptedAt = new Map<string, number[]>();
  #sockets = new Map<string, Socket>();
  #waiters: { count: number; resolve: () => void }[] = [];

  constructor(private options: SmtpPeerOptions = {}) {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      hideENHANCEDSTATUSCODES: true,
      hideSMTPUTF8: options.hideSMTPUTF8 ?? false,
      hidePIPELINING: options.hidePIPELINING ?? false,
      logger: this.#commandLogger(),
      banner: "sluice test peer",
      size: options.size ?? 50 * 1024 * 1024,
      socketTimeout: 120_000,
      onConnect: (session, cb) => this.#onConnect(session, cb),
      onRcptTo: (address, session, cb) => this.#onRcpt(address.address, session, cb),
      onData: (stream, session, cb) => this.#onData(stream, session, cb),
      onClose: (session) => this.#onClose(session),
    } as ConstructorParameters<typeof SMTPServer>[0]);
    this.#server.on("error", () => undefined); // a client that vanishes is a normal event here
    // smtp-server does not expose sockets; map them by remote port to drop connections mid-DATA.
    const net = (this.#server as unknown as { server: import("node:net").Server }).server;
    net.on("connection", (socket: Socket) => {
      const key = String(socket.remotePort);
      this.#sockets.set(key, socket);
      socket.once("close", () => this.#sockets.delete(key));
    });
  }

  // smtp-server logs each client command at debug level as (data, "C:", line); only those are kept.
  #commandLogger(): Record<"trace" | "debug" | "info" | "warn" | "error" | "fatal", (...args: unknown[]) => void> {
    const none = (): void => undefined;
    const debug = (data: unknown, _message: unknown, line: unknown): void => {
      if ((data as { tnx?: string } | undefined)?.tnx === "command" && typeof line === "string" && /^(MAIL|RCPT) /i.test(line)) this.envelopeCommands.push(line);
    };
    return { trace: none, debug, info: none, warn: none, error: none, fatal: none };
  }

  get port(): number {
    return this.#port;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.options.port ?? 0, "127.0.0.1", () => resolve());
    });
    const addr = (this.#server as unknown as { server: import("node:net").Server }).server.address();
    this.#port = typeof addr === "object" && addr ? addr.port : 0;
    return this;
  }

  /** Replace one domain's behaviour (or the default, with "*") while the peer runs. */
  setBehaviour(domain: string, behaviour: Behaviour): void {
    if (domain === "*") this.options.default = behaviour;
    else this.options.domains = { ...this.options.domains, [domain]: behaviour };
  }

  openConnections(domain = "*"): number {
    if (domain === "*") return this.#open.size;
    let n = 0;
    for (const c of this.#open.values()) if (c.domain === domain) n++;
    return n;
  }

  messagesFor(domain: string): ReceivedMessage[] {
    return this.messages.filter((m) => m.domain === domain);
  }

  /** Resolves once `count` messages in total have been accepted. */
  waitForMessages(count: number, timeoutMs = 30_000): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`peer got ${this.messages.length} of ${count} messages in ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({ count, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets.values()) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #behaviour(domain: string | undefined): Behaviour {
    return (domain !== undefined ? this.options.domains?.[domain] : undefined) ?? this.options.default ?? {};
  }

  #onConnect(session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    this.connectionsOpened++;
    if (this.options.maxConnections !== undefined && this.#open.size >= this.options.maxConnections) {
      cb(replyError({ code: 421, text: "4.7.0 Too many connections, try again later" }));
      return;
    }
    this.#open.set(session.id, { domain: undefined, socket: this.#sockets.get(String(session.remotePort)) });
    this.#bump("*", this.#open.size);
    cb();
  }

  #onClose(session: SMTPServerSession): void {
    this.#open.delete(session.id);
  }

  #onRcpt(address: string, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    const domain = address.slice(address.lastIndexOf("@") + 1).toLowerCase();
    const conn = this.#open.get(session.id);
    if (conn && conn.domain === undefined) {
      conn.domain = domain;
      this.#bump(domain, this.openConnections(domain));
    }
    const b = this.#behaviour(domain);
    const attempt = (this.#rcptAttempts.get(address) ?? 0) + 1;
    this.#rcptAttempts.set(address, attempt);
    if (b.hang) return; // never call back: the client must time out
    const answer = (): void => {
      let reply: Reply | undefined;
      if (b.maxConnections !== undefined && this.openConnections(domain) > b.maxConnections) {
        reply = { code: 421, text: "4.7.0 Too many concurrent connections from your IP" };
      } else if (b.maxPerSecond !== undefined && this.#recentAccepted(domain) >= b.maxPerSecond) {
        reply = { code: 421, text: "4.7.0 Rate limited, slow down" };
      } else {
        reply = b.rcpt?.({ address, domain, attempt, connectionId: session.id });
      }
      if (reply) {
        this.rejected.push({ domain, address, reply, at: Date.now() });
        cb(replyError(reply));
      } else cb();
    };
    if (b.delayMs) setTimeout(answer, b.delayMs);
    else answer();
  }

  #onData(stream: NodeJS.ReadableStream, session: SMTPServerSession, cb: (err?: Error | null) => void): void {
    const rcptTo = session.envelope.rcptTo.map((a) => a.address);
    const first = rcptTo[0] ?? "";
    const domain = first.slice(first.lastIndexOf("@") + 1).toLowerCase();
    const b = this.#behaviour(domain);
    const chunks: Buffer[] = [];
    let dropped = false;
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (b.dropMidData && !dropped) {
        dropped = true;
        const socket = this.#open.get(session.id)?.socket ?? this.#sockets.get(String(session.remotePort));
        socket?.destroy();
      }
    });
    stream.on("end", () => {
      if (dropped) return;
      const attempt = (this.#dataAttempts.get(first) ?? 0) + 1;
      this.#dataAttempts.set(first, attempt);
      const finish = (): void => {
        const reply = b.data?.({ address: first, domain, attempt, connectionId: session.id });
        if (reply) {
          this.rejected.push({ domain, address: first, reply, at: Date.now() });
          cb(replyError(reply));
          return;
        }
        const mailFrom = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
        const smtpUtf8 = (session.envelope as { smtpUtf8?: boolean }).smtpUtf8 === true;
        const who = { remoteAddress: session.remoteAddress.replace(/^::ffff:/, ""), ehlo: session.hostNameAppearsAs };
        const message: ReceivedMessage = { connectionId: session.id, domain, mailFrom, rcptTo, raw: Buffer.concat(chunks), at: Date.now(), smtpUtf8, ...who };
        this.messages.push(message);
        const times = this.#acceptedAt.get(domain) ?? [];
        times.push(message.at);
        this.#acceptedAt.set(domain, times);
        for (const w of this.#waiters.filter((w) => this.messages.length >= w.count)) w.resolve();
        this.#waiters = this.#waiters.filter((w) => this.messages.length < w.count);
        Promise.resolve(this.options.onMessage?.(message)).then(
          () => cb(),
          (e: unknown) => cb(replyError({ code: 451, text: `4.3.0 could not store message: ${String(e)}` })),
        );
      };
      if (b.delayMs) setTimeout(finish, b.delayMs);
      else finish();
    });
  }

  #recentAccepted(domain: string): number {
    const times = this.#acceptedAt.get(domain);
    if (!times) return 0;
    const since = Date.now() - 1000;
    while (times.length > 0 && (times[0] as number) < since) times.shift();
    return times.length;
  }

  #bump(key: string, value: number): void {
    if (value > (this.maxConcurrent.get(key) ?? 0)) this.maxConcurrent.set(key, value);
  }
}

function replyError(reply: Reply): Error {
  return Object.assign(new Error(reply.text), { responseCode: reply.code });
}

export async function startSmtpPeer(options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  return new SmtpPeer(options).listen();
}
