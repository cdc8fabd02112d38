import type { z } from "zod";
import { validationError, type SluiceError, errorMessage } from "./errors.ts";

const decoder = new TextDecoder();

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: SluiceError };

/** The first zod issue as `field` + sentence; enough for a person to fix the input. */
export function describeIssues(error: z.ZodError): { field: string | undefined; message: string } {
  const issue = error.issues[0];
  if (issue === undefined) return { field: undefined, message: "is invalid" };
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : undefined;
  return { field, message: issue.message };
}

/** Validate an already-parsed value; a failure names the field and why. */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string): Decoded<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const { field, message } = describeIssues(result.error);
  const where = field === undefined ? what : `${what}: ${field}`;
  return { ok: false, error: validationError("invalid_" + what.replace(/\W+/g, "_"), `${where} ${message}`, field) };
}

/** Decode and validate a JSON NATS payload. Never throws: bad bytes from a direct producer harm nothing. */
export function decode<S extends z.ZodType>(schema: S, data: Uint8Array, what: string): Decoded<z.output<S>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch (e) {
    return {
      ok: false,
      error: validationError("invalid_json", `${what} is not JSON: ${errorMessage(e)}`),
    };
  }
  return check(schema, parsed, what);
}

export function encode(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}
