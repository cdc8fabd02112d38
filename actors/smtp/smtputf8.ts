import SMTPConnection from "nodemailer/lib/smtp-connection";

/**
 * Does a server offer SMTPUTF8? Asked only for mail whose envelope has a non-ASCII local
 * part (rare), by one short session (connect, EHLO, STARTTLS when offered, QUIT) with the
 * same options as the delivery pool, and remembered per host for CACHE_MS. The pool's own
 * sessions (actors/smtp/pool.ts) do not expose the EHLO reply.
 */
const CACHE_MS = 10 * 60_000;
/** A probe that failed to connect is not an answer: asked again after this. */
const FAILED_CACHE_MS = 30_000;

export class SmtpUtf8Probe {
  #answers = new Map<string, { offered: boolean | undefined; until: number; pending?: Promise<boolean | undefined> }>();

  /** true/false when the server said; undefined when it could not be reached (retry later). */
  async offered(key: string, options: SMTPConnection.Options): Promise<boolean | undefined> {
    const now = Date.now();
    const known = this.#answers.get(key);
    if (known?.pending) return known.pending;
    if (known && known.until > now) return known.offered;
    const pending = probe(options).then((offered) => {
      this.#answers.set(key, { offered, until: Date.now() + (offered === undefined ? FAILED_CACHE_MS : CACHE_MS) });
      return offered;
    });
    this.#answers.set(key, { offered: undefined, until: 0, pending });
    return pending;
  }
}

function probe(options: SMTPConnection.Options): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const conn = new SMTPConnection(options);
    let done = false;
    const finish = (v: boolean | undefined): void => {
      if (done) return;
      done = true;
      resolve(v);
      conn.quit();
    };
    conn.on("error", () => finish(undefined)); // on, not once: a quit after an error may emit another
    conn.once("end", () => finish(undefined));
    conn.connect(() => {
      // nodemailer keeps the EHLO keywords here (after STARTTLS, the second EHLO's).
      const extensions = (conn as unknown as { _supportedExtensions?: unknown })._supportedExtensions;
      finish(Array.isArray(extensions) ? extensions.includes("SMTPUTF8") : undefined);
    });
  });
}
