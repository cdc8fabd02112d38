import { createInbox, headers as newHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/**
 * JetStream publishes a group at a time, with the acks counted per group.
 *
 * `js.publish` is a request per message: a reply-mux entry, a timer, a "cancelled"
 * Error built after every successful ack and (with async traces on, as on the node's
 * connection) two more Errors with stack traces. In the fan-out that was more than half
 * of its CPU (the errors and the GC they cause). Here every message of a group is a plain
 * publish whose reply subject names the group; the group is done when JetStream has
 * acknowledged each of its messages (a PubAck without an error), and fails at the first
 * error, at a "no responders" status, or after `timeoutMs` without all acks. The
 * guarantee is the same as awaiting every `js.publish`: the promise resolves only once
 * JetStream stored (or de-duplicated, by the `Nats-Msg-Id` header) each message.
 */

const MSG_ID_HEADER = "Nats-Msg-Id";

export interface AckedMessage {
  subject: string;
  data: Uint8Array;
  /** JetStream de-duplication id (Nats-Msg-Id); none for a write that must not be de-duplicated. */
  msgID?: string | undefined;
  /** Extra headers (trace context); copied, never changed. */
  headers?: MsgHdrs | undefined;
}

/** JetStream answered a publish with an error (stream full, wrong stream, ...). */
export class PublishRefusedError extends Error {
  constructor(
    readonly description: string,
    readonly code: number | undefined,
    /** JetStream's own error code (e.g. 10071: wrong last sequence). */
    readonly errCode?: number | undefined,
  ) {
    super(`JetStream refused the write: ${description}${code === undefined ? "" : ` (${code})`}`);
    this.name = "PublishRefusedError";
  }
}

interface OpenGroup {
  waiting: number;
  resolve(): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class AckedPublisher {
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  readonly #sub: Subscription;
  readonly #open = new Map<string, OpenGroup>();
  #next = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#inbox = createInbox();
    this.#sub = nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => (err ? this.#failAll(err) : this.#onAck(msg)) });
  }

  /** Publish every message, in order; resolves once JetStream acknowledged them all. */
  publish(messages: AckedMessage[], timeoutMs: number): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const token = String(this.#next++);
    const reply = `${this.#inbox}.${token}`;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(token, new Error(`JetStream did not acknowledge ${messages.length} message(s) within ${timeoutMs} ms`)), timeoutMs);
      this.#open.set(token, { waiting: messages.length, resolve, reject, timer });
    });
    // nats.js encodes the headers at each publish, so one set serves every message that
    // shares its extra headers, with the msgID set just before each publish.
    let extra: MsgHdrs | undefined | null = null;
    let h: MsgHdrs = newHeaders();
    try {
      for (const m of messages) {
        if (m.headers !== extra) {
          extra = m.headers;
          h = newHeaders();
          if (extra) for (const k of extra.keys()) h.set(k, extra.get(k));
        }
        if (m.msgID !== undefined) h.set(MSG_ID_HEADER, m.msgID);
        else h.delete(MSG_ID_HEADER);
        this.#nc.publish(m.subject, m.data, { reply, headers: h });
      }
    } catch (e) {
      this.#fail(token, e instanceof Error ? e : new Error(String(e)));
    }
    return done;
  }

  close(): void {
    this.#failAll(new Error("publisher closed"));
    this.#sub.unsubscribe();
  }

  #onAck(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    const g = this.#open.get(token);
    if (g === undefined) return; // a group that already failed
    if (msg.headers?.code === 503) return this.#fail(token, new Error("no JetStream stream answers for this subject (503 no responders)"));
    let ack: { stream?: string; error?: { code?: number; err_code?: number; description?: string } };
    try {
      ack = msg.json();
    } catch {
      return this.#fail(token, new Error("invalid JetStream publish acknowledgement"));
    }
    if (ack.error !== undefined || typeof ack.stream !== "string") {
      return this.#fail(token, new PublishRefusedError(ack.error?.description ?? "invalid acknowledgement", ack.error?.code, ack.error?.err_code));
    }
    if (--g.waiting === 0) {
      clearTimeout(g.timer);
      this.#open.delete(token);
      g.resolve();
    }
  }

  #fail(token: string, e: Error): void {
    const g = this.#open.get(token);
    if (g === undefined) return;
    clearTimeout(g.timer);
    this.#open.delete(token);
    g.reject(e);
  }

  #failAll(e: Error): void {
    for (const token of [...this.#open.keys()]) this.#fail(token, e);
  }
}
