/**
 * The one error taxonomy of Sluice. Every error carries a stable `code` (for machines)
 * and a message a person can act on. The kind decides what happens next:
 *  - validation: the caller's fault; answered 4xx, never retried.
 *  - temporary:  retry later (NATS down, 4xx SMTP reply, stream full).
 *  - permanent:  do not retry (5xx SMTP reply, null MX).
 *  - internal:   a bug; logged loudly.
 */
export type ErrorKind = "validation" | "temporary" | "permanent" | "internal";

export class SluiceError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  /** The input field at fault, as a dotted path (`to.0`, `headers.X-Foo`), when known. */
  readonly field: string | undefined;

  constructor(kind: ErrorKind, code: string, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SluiceError";
    this.kind = kind;
    this.code = code;
    this.field = options?.field;
  }

  toJSON(): { code: string; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

export const validationError = (code: string, message: string, field?: string): SluiceError =>
  new SluiceError("validation", code, message, field === undefined ? undefined : { field });

export const temporaryError = (code: string, message: string, cause?: unknown): SluiceError =>
  new SluiceError("temporary", code, message, { cause });

export const permanentError = (code: string, message: string, cause?: unknown): SluiceError =>
  new SluiceError("permanent", code, message, { cause });

export const internalError = (code: string, message: string, cause?: unknown): SluiceError =>
  new SluiceError("internal", code, message, { cause });

export const isSluiceError = (e: unknown): e is SluiceError => e instanceof SluiceError;

/** The message of anything thrown, for a log line or an error's text. */
export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
