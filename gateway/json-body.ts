import type { FastifyInstance } from "fastify";
import { isWellFormed } from "../protocol/index.ts";
import { HttpError } from "./http-error.ts";

/**
 * The one JSON body parser. Replaces fastify's so that each way a body can be wrong gets
 * its own code: bytes that are not UTF-8 (`invalid_utf8`; the default decoder would
 * substitute U+FFFD silently), text that is not JSON (`invalid_json`), valid JSON carrying
 * `__proto__` or `constructor` keys (`forbidden_key`, naming it; not "invalid JSON"),
 * strings or keys with lone surrogates (`invalid_unicode`), and nesting deeper than any
 * request needs (`too_deep`). The walk is iterative: deep input cannot blow the stack.
 */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** No request schema nests deeper than ~6; a little room, then refuse before zod walks it. */
export const MAX_JSON_DEPTH = 32;

const FORBIDDEN_KEYS = new Set(["__proto__", "constructor"]);

interface Node {
  value: unknown;
  parent: Node | undefined;
  key: string;
  depth: number;
}

const pathOf = (n: Node): string => {
  const keys: string[] = [];
  for (let at: Node | undefined = n; at?.parent !== undefined; at = at.parent) keys.push(at.key);
  return keys.reverse().join(".");
};

const named = (field: string, message: string): string => (field === "" ? `the request body ${message}` : `${field} ${message}`);

export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new HttpError(400, "missing_body", "the request body is empty; expected a JSON object");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_utf8", "the request body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, "invalid_json", `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  inspect(value);
  return value;
}

function inspect(root: unknown): void {
  const stack: Node[] = [{ value: root, parent: undefined, key: "", depth: 0 }];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    const v = n.value;
    if (typeof v === "string") {
      if (!isWellFormed(v)) {
        const field = pathOf(n);
        throw new HttpError(400, "invalid_unicode", named(field, "contains a lone UTF-16 surrogate (\\ud800-\\udfff unpaired): not Unicode text"), field || undefined);
      }
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (n.depth >= MAX_JSON_DEPTH) {
      const field = pathOf(n);
      throw new HttpError(400, "too_deep", named(field, `nests deeper than ${MAX_JSON_DEPTH} levels`), field || undefined);
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: n, key: String(i), depth: n.depth + 1 });
      continue;
    }
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      const child: Node = { value: o[key], parent: n, key, depth: n.depth + 1 };
      if (FORBIDDEN_KEYS.has(key)) {
        const field = pathOf(child);
        throw new HttpError(400, "forbidden_key", `${field} is a forbidden key (__proto__ and constructor are refused: prototype pollution)`, field);
      }
      if (!isWellFormed(key)) {
        const field = pathOf(n);
        throw new HttpError(400, "invalid_unicode", named(field, "has a key with a lone UTF-16 surrogate: not Unicode text"), field || undefined);
      }
      stack.push(child);
    }
  }
}

/** Install it for application/json (and its parameters, e.g. charset=utf-8). */
export function installJsonBody(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
}
