import SMTPConnection from "nodemailer/lib/smtp-connection";
import { SmtpTransactions } from "./transaction.ts";

/** Options of one (destination, MX host) pool. */
export interface SmtpPoolOptions {
  connection: ConstructorParameters<typeof SMTPConnection>[0];
  auth: { user: string; pass: string } | undefined;
  maxConnections: number;
  maxMessagesPerConnection: number;
  /** An idle connection is closed after this long (the remote would drop it anyway). */
  idleMs: number;
}

/** What nodemailer's SMTPConnection puts on an error. */
export interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  /** The command the reply answered; "API" when nothing was sent (the session was already closed). */
  command?: string;
  /** Set by the pool: the session was refused before it was established (greeting, EHLO, login). */
  atGreeting?: boolean;
}

interface Slot {
  conn: SMTPConnection;
  messages: number;
  dead: boolean;
  /** Past the greeting (and login): a session the server accepted. */
  established: boolean;
  /** Our transaction layer, once the session is established. */
  tx: SmtpTransactions | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

/** The error code of a send refused here because the session lacks SMTPUTF8. */
export const SMTPUTF8_REFUSED = "ESMTPUTF8";

/** nodemailer keeps the EHLO keywords of the session (after STARTTLS, the second EHLO's). */
const offers = (conn: SMTPConnection, keyword: string): boolean => {
  const extensions = (conn as unknown as { _supportedExtensions?: unknown })._supportedExtensions;
  return Array.isArray(extensions) && extensions.includes(keyword);
};

const isTransient = (e: SmtpError): boolean => e.responseCode === 421 || e.code === "ECONNECTION" || e.code === "ESOCKET" || e.code === "ETIMEDOUT";

/**
 * A small SMTP connection pool: nodemailer's SMTPConnection opens each session (greeting,
 * EHLO, STARTTLS, AUTH), then our transaction layer (transaction.ts) sends pre-rendered
 * MIME buffers over it, pipelined when the server offers PIPELINING. At most `maxConnections` sessions are open; a session
 * is closed after `maxMessagesPerConnection` messages, on a connection-level error, or
 * after idling. A refused message (4xx/5xx to MAIL/RCPT/DATA) resets the session and keeps it.
 */
export class SmtpPool {
  #idle: Slot[] = [];
  #open = 0;
  #established = 0;
  #waiters: { resolve: (s: Slot) => void; reject: (e: unknown) => void }[] = [];
  #closed = false;

  constructor(private readonly o: SmtpPoolOptions) {}

  get maxConnections(): number {
    return this.o.maxConnections;
  }

  /** Sessions the server accepted and that are still open. */
  get working(): number {
    return this.#established;
  }

  /** Sessions open or opening. */
  get open(): number {
    return this.#open;
  }

  /** Sessions open and waiting for a message. */
  get idle(): number {
    return this.#idle.length;
  }

  /** Close one idle session (QUIT), to make room for another pool's; false when none is idle. */
  closeIdle(): boolean {
    const slot = this.#idle[this.#idle.length - 1];
    if (slot === undefined) return false;
    this.#drop(slot, true);
    return true;
  }

  /**
   * Send one message. `smtpUtf8`: the envelope has a non-ASCII local part, which only a
   * server that offered SMTPUTF8 in this session's EHLO may receive (RFC 6531 §3.4); nodemailer
   * adds the MAIL FROM keyword itself. Without the offer nothing is sent and the error has
   * code SMTPUTF8_REFUSED.
   */
  async send(from: string, to: string, raw: Buffer, smtpUtf8 = false): Promise<string> {
    // A reused session found closed before a byte of the message went out (nodemailer says
    // so with command "API") is not the message's fault: it goes out over a fresh session.
    // Any other connection failure may have happened after DATA, so it is not repeated here.
    for (let attempt = 0; ; attempt++) {
      const slot = await this.#acquire();
      const reused = slot.messages > 0;
      if (smtpUtf8 && !offers(slot.conn, "SMTPUTF8")) {
        this.#release(slot);
        throw Object.assign(new Error("the server did not offer SMTPUTF8, which an address with a non-ASCII local part needs (RFC 6531); not sent"), { code: SMTPUTF8_REFUSED });
      }
      try {
        return await this.#sendOn(slot, from, to, raw);
      } catch (e) {
        const err = e as SmtpError & { command?: string };
        if (attempt === 0 && reused && isTransient(err) && err.command === "API") continue;
        throw err;
      }
    }
  }

  async #sendOn(slot: Slot, from: string, to: string, raw: Buffer): Promise<string> {
    const tx = slot.tx as SmtpTransactions;
    try {
      const response = await tx.send(from, to, raw, offers(slot.conn, "SMTPUTF8"));
      slot.messages++;
      this.#release(slot);
      return response;
    } catch (err) {
      const e = err as SmtpError;
      if (e.command !== "API") slot.messages++;
      const refused = (e.code === "EENVELOPE" || e.code === "EMESSAGE") && e.responseCode !== 421 && !slot.dead;
      if (refused) {
        tx.reset().then(
          () => this.#release(slot),
          () => this.#drop(slot),
        );
      } else {
        this.#drop(slot);
      }
      throw e;
    }
  }

  #acquire(): Promise<Slot> {
    if (this.#closed) return Promise.reject(Object.assign(new Error("SMTP pool closed"), { code: "ECONNECTION" }));
    while (this.#idle.length > 0) {
      const slot = this.#idle.pop() as Slot;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      if (!slot.dead) return Promise.resolve(slot);
    }
    if (this.#open < this.o.maxConnections) return this.#connect();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #connect(): Promise<Slot> {
    this.#open++;
    const conn = new SMTPConnection(this.o.connection);
    const slot: Slot = { conn, messages: 0, dead: false, established: false, tx: undefined, idleTimer: undefined };
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: unknown): void => {
        if (!settled) {
          settled = true;
          if (typeof e === "object" && e !== null) (e as SmtpError).atGreeting = true;
          reject(e);
        }
      };
      const established = (): void => {
        settled = true;
        slot.established = true;
        slot.tx = new SmtpTransactions(conn);
        this.#established++;
        resolve(slot);
      };
      // An error outside a send (e.g. the server closing an idle session) only kills the slot;
      // an error during a send reaches that send's callback as well.
      conn.on("error", (e: unknown) => {
        slot.tx?.fail(e as SmtpError);
        this.#drop(slot);
        fail(e);
      });
      // A server that refuses at the greeting ("421 too many connections") closes at once:
      // the "end" may come first, and the reply (the error event) must win over it.
      conn.once("end", () => {
        slot.tx?.fail(Object.assign(new Error("Connection closed"), { code: "ECONNECTION" }));
        this.#drop(slot);
        setImmediate(() => fail(Object.assign(new Error("Connection closed during set-up"), { code: "ECONNECTION" })));
      });
      conn.connect((err) => {
        if (err) {
          this.#drop(slot);
          return fail(err);
        }
        if (this.o.auth === undefined || !conn.allowsAuth) return established();
        conn.login(this.o.auth, (loginErr) => {
          if (loginErr) {
            this.#drop(slot);
            return fail(loginErr);
          }
          established();
        });
      });
    });
  }

  #release(slot: Slot): void {
    if (slot.dead) return;
    if (this.#closed || slot.messages >= this.o.maxMessagesPerConnection) {
      this.#drop(slot, true);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) return waiter.resolve(slot);
    slot.idleTimer = setTimeout(() => this.#drop(slot, true), this.o.idleMs);
    slot.idleTimer.unref();
    this.#idle.push(slot);
  }

  #drop(slot: Slot, quit = false): void {
    if (slot.dead) return;
    slot.dead = true;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    this.#open--;
    if (slot.established) this.#established--;
    const i = this.#idle.indexOf(slot);
    if (i >= 0) this.#idle.splice(i, 1);
    if (quit && slot.tx) slot.tx.quit();
    else if (quit) slot.conn.quit();
    else {
      slot.tx?.fail(Object.assign(new Error("Connection closed"), { code: "ECONNECTION" }));
      slot.conn.close();
    }
    // A freed place opens a session for the next waiting send.
    const waiter = this.#closed ? undefined : this.#waiters.shift();
    if (waiter) this.#connect().then(waiter.resolve, waiter.reject);
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(Object.assign(new Error("SMTP pool closed"), { code: "ECONNECTION" }));
    for (const slot of [...this.#idle]) this.#drop(slot, true);
  }
}
