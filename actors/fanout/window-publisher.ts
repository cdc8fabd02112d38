import { createInbox, headers as newHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/**
 * JetStream publishes a window at a time, with the acks counted per window.
 *
 * `js.publish` is a request per message: a reply-mux entry, a timer and (with async
 * traces on, as on the node's connection) two Error objects with stack traces each. In
 * the fan-out that was more than half of its CPU (errors + the GC they cause). Here every
 * message of a window is a plain publish whose reply subject names the window; the
 * window is done when JetStream has acknowledged each of its messages (a PubAck without
 * an error), and fails at the first error, at a "no responders" status, or after
 * `timeoutMs` without all acks. The guarantee is the same as awaiting every
 * `js.publish`: a window resolves only once JetStream stored (or de-duplicated, by the
 * `Nats-Msg-Id` header) each of its messages.
 */

const MSG_ID_HEADER = "Nats-Msg-Id";

export interface WindowMessage {
  subject: string;
  data: Uint8Array;
  msgID: string;
}

interface OpenWindow {
  waiting: number;
  resolve(): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class WindowPublisher {
  readonly #nc: NatsConnection;
  readonly #inbox: string;
  readonly #sub: Subscription;
  readonly #open = new Map<string, OpenWindow>();
  #next = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#inbox = createInbox();
    this.#sub = nc.subscribe(`${this.#inbox}.*`, { callback: (err, msg) => (err ? this.#failAll(err) : this.#onAck(msg)) });
  }

  /**
   * Publish every message (in order) with `msgID` as its JetStream de-duplication id and
   * `trace` headers when given; resolves once all are acknowledged.
   */
  publish(messages: WindowMessage[], trace: MsgHdrs | undefined, timeoutMs: number): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const token = String(this.#next++);
    const reply = `${this.#inbox}.${token}`;
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.#fail(token, new Error(`JetStream did not acknowledge a fan-out window within ${timeoutMs} ms`)), timeoutMs);
      this.#open.set(token, { waiting: messages.length, resolve, reject, timer });
    });
    // One header set for the window: nats.js encodes it at each publish, so setting the
    // msgID before each is safe. The trace headers are copied, never changed.
    const h = newHeaders();
    if (trace) for (const k of trace.keys()) h.set(k, trace.get(k));
    try {
      for (const m of messages) {
        h.set(MSG_ID_HEADER, m.msgID);
        this.#nc.publish(m.subject, m.data, { reply, headers: h });
      }
    } catch (e) {
      this.#fail(token, e instanceof Error ? e : new Error(String(e)));
    }
    return done;
  }

  close(): void {
    this.#failAll(new Error("fan-out publisher closed"));
    this.#sub.unsubscribe();
  }

  #onAck(msg: Msg): void {
    const token = msg.subject.slice(this.#inbox.length + 1);
    const w = this.#open.get(token);
    if (w === undefined) return; // a window that already failed
    if (msg.headers?.code === 503) return this.#fail(token, new Error(`no JetStream stream answers for this subject (503 no responders)`));
    let ack: { stream?: string; error?: { code?: number; description?: string } };
    try {
      ack = msg.json();
    } catch {
      return this.#fail(token, new Error("invalid JetStream publish acknowledgement"));
    }
    if (ack.error !== undefined || typeof ack.stream !== "string") {
      return this.#fail(token, new Error(`JetStream refused a fan-out message: ${ack.error?.description ?? "invalid acknowledgement"} (${ack.error?.code ?? "?"})`));
    }
    if (--w.waiting === 0) {
      clearTimeout(w.timer);
      this.#open.delete(token);
      w.resolve();
    }
  }

  #fail(token: string, e: Error): void {
    const w = this.#open.get(token);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.#open.delete(token);
    w.reject(e);
  }

  #failAll(e: Error): void {
    for (const token of [...this.#open.keys()]) this.#fail(token, e);
  }
}
