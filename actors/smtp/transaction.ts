import type { Socket } from "node:net";
import type SMTPConnection from "nodemailer/lib/smtp-connection";
import { dataChunks } from "./dot-stuff.ts";
import { recycle } from "./message-buffers.ts";
import type { SmtpError } from "./pool.ts";

/** One complete SMTP reply: its code and its lines joined by "\n" (as nodemailer reports them). */
interface Reply {
  code: number;
  text: string;
}

/**
 * Mail transactions on a session that nodemailer's SMTPConnection opened (greeting, EHLO,
 * STARTTLS, AUTH stay nodemailer's: rare, and fiddly). From then on this reads and writes the
 * socket itself (issue 17): nodemailer's per-message streams, response actions and socket
 * writes were ~30% of the node's CPU. With PIPELINING (RFC 2920) a transaction is two writes:
 * MAIL, RCPT and DATA together, then the dot-stuffed message with its terminator after the 354.
 * Without it, one command per round trip.
 *
 * Errors have nodemailer's shape (code EENVELOPE / EMESSAGE / ECONNECTION, responseCode,
 * response, command), so the pool and the classification treat both alike.
 */
export class SmtpTransactions {
  #socket: Socket;
  #partial: Buffer[] = [];
  #lines: string[] = [];
  #waiting: { resolve(r: Reply): void; reject(e: unknown): void }[] = [];
  #broken: SmtpError | undefined;
  readonly pipelining: boolean;

  constructor(private readonly conn: SMTPConnection) {
    const c = conn as unknown as { _socket: Socket; _onSocketData: (chunk: Buffer) => void; _supportedExtensions?: string[] };
    this.#socket = c._socket;
    this.pipelining = (c._supportedExtensions ?? []).includes("PIPELINING");
    // nodemailer's own reader would take the replies meant for us: it is idle now, and stays so.
    this.#socket.removeListener("data", c._onSocketData);
    this.#socket.on("data", (chunk: Buffer) => this.#read(chunk));
  }

  /** The session ended (error, close, timeout): every reply still awaited fails with this. */
  fail(e: SmtpError): void {
    this.#broken ??= e;
    for (const w of this.#waiting.splice(0)) w.reject(e);
  }

  /**
   * One message to one recipient. Resolves with the final reply's text. As nodemailer did,
   * MAIL FROM carries SMTPUTF8 when an address is not ASCII and the server offered it.
   */
  async send(from: string, to: string, raw: Buffer, offersSmtpUtf8: boolean): Promise<string> {
    const smtpUtf8 = offersSmtpUtf8 && (NON_ASCII.test(from) || NON_ASCII.test(to));
    if (this.#broken || this.#socket.destroyed || !this.#socket.writable) {
      // Nothing of the message went out: the pool may try it on a fresh session.
      throw Object.assign(new Error("Connection closed"), { code: "ECONNECTION", command: "API" });
    }
    const mailFrom = `MAIL FROM:<${from}>${smtpUtf8 ? " SMTPUTF8" : ""}\r\n`;
    const rcptTo = `RCPT TO:<${to}>\r\n`;
    let replies: Promise<Reply>[];
    if (this.pipelining) {
      replies = [this.#expect(), this.#expect(), this.#expect()];
      this.#socket.write(mailFrom + rcptTo + "DATA\r\n");
    } else {
      replies = [this.#command(mailFrom)];
    }
    for (const r of replies) r.catch(() => undefined); // awaited below, maybe not all
    const mail = await (replies[0] as Promise<Reply>);
    if (!ok(mail)) return this.#refused(replies[2], envelopeError("Mail command failed", mail, "MAIL FROM"));
    const rcpt = await (replies[1] ?? this.#command(rcptTo));
    if (!ok(rcpt)) return this.#refused(replies[2], envelopeError("Can't send mail - all recipients were rejected", rcpt, "RCPT TO"));
    const data = await (replies[2] ?? this.#command("DATA\r\n"));
    // Some servers answer DATA with 250 instead of 354 (nodemailer accepts both).
    if (data.code !== 354 && data.code !== 250) throw envelopeError("Data command failed", data, "DATA");
    const final = await this.#command(dataChunks(raw));
    if (!ok(final)) throw Object.assign(new Error(`Message failed: ${final.text}`), { code: "EMESSAGE", responseCode: final.code, response: final.text, command: "DATA" });
    // Accepted: the server read every byte, so the buffer may carry the next message (message-buffers.ts).
    recycle(raw);
    return final.text;
  }

  /**
   * The envelope was refused: the reply says why (even if the server then hangs up, as after
   * a 421). A pipelined DATA that the server accepted all the same is ended with an empty message.
   */
  async #refused(data: Promise<Reply> | undefined, e: SmtpError): Promise<never> {
    const reply = data === undefined ? undefined : await data.catch(() => undefined);
    if (reply?.code === 354) await this.#command(".\r\n").catch(() => undefined);
    throw e;
  }

  /** RSET after a refused message: the session is reused. Rejects if the server does not agree. */
  async reset(): Promise<void> {
    const r = await this.#command("RSET\r\n");
    if (!ok(r)) throw envelopeError("Could not reset session", r, "RSET");
  }

  /** Say goodbye and close (the server's 221 is not awaited). */
  quit(): void {
    if (!this.#broken && this.#socket.writable) this.#socket.write("QUIT\r\n");
    this.fail(Object.assign(new Error("Connection closed"), { code: "ECONNECTION" }));
    this.conn.close();
  }

  #command(line: string | Buffer[]): Promise<Reply> {
    const reply = this.#expect();
    if (typeof line === "string") this.#socket.write(line);
    else {
      // One writev for the message and its terminator, without copying them into one buffer.
      this.#socket.cork();
      for (const chunk of line) this.#socket.write(chunk);
      this.#socket.uncork();
    }
    return reply;
  }

  #expect(): Promise<Reply> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  #read(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      const line = (this.#partial.length > 0 ? Buffer.concat([...this.#partial.splice(0), piece]) : piece).toString("utf8").replace(/\r$/, "");
      start = nl + 1;
      this.#line(line);
    }
    if (start < chunk.length) this.#partial.push(chunk.subarray(start));
  }

  #line(line: string): void {
    this.#lines.push(line);
    // "250-..." continues a reply; "250 ..." or a bare "250" ends it.
    if (line.length > 3 && line[3] === "-") return;
    const text = this.#lines.join("\n");
    this.#lines = [];
    const code = Number(text.slice(0, 3));
    const waiter = this.#waiting.shift();
    if (waiter) return waiter.resolve({ code: Number.isInteger(code) ? code : 0, text });
    // A reply nobody asked for: the server is ending the session (421 shutting down).
    this.fail(Object.assign(new Error(`Unexpected reply: ${text}`), { code: "ECONNECTION", responseCode: code, response: text }));
  }
}

const NON_ASCII = /[\x80-\uFFFF]/;
const ok = (r: Reply): boolean => r.code >= 200 && r.code < 300;

function envelopeError(what: string, r: Reply, command: string): SmtpError {
  return Object.assign(new Error(`${what}: ${r.text}`), { code: "EENVELOPE", responseCode: r.code, response: r.text, command });
}
