import type { FastifyInstance } from "fastify";
import { Ajv, type ValidateFunction } from "ajv";

type Operation = { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> };
type Doc = { paths: Record<string, Record<string, Operation>>; components: unknown };

/**
 * A test-only onSend hook: every answer the gateway gives in a test must be one its OpenAPI
 * document promises — a documented operation, a documented status, and (for JSON) a body
 * that validates against the documented schema. Problems are collected; the fixture that
 * installed the check fails its test file with them when it closes.
 */
export function responseCheck(): { install(app: FastifyInstance): void; problems: string[] } {
  const ajv = new Ajv({ strict: false, allErrors: false });
  // The served document, as /docs/openapi.json answers it: known once every route is registered.
  let served: Doc | undefined;
  const docOf = (app: FastifyInstance): Doc => {
    if (served === undefined) {
      served = app.swagger() as unknown as Doc;
      ajv.addSchema(draft7({ components: served.components }) as object, "sluice");
    }
    return served;
  };
  const compiled = new Map<unknown, ValidateFunction>();
  const validatorOf = (schema: unknown): ValidateFunction => {
    let v = compiled.get(schema);
    if (v === undefined) {
      // $refs point into the document's components: resolve them against the added root.
      const rebased = draft7(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"sluice#/components/'))) as object;
      v = ajv.compile(rebased);
      compiled.set(schema, v);
    }
    return v;
  };
  const problems: string[] = [];
  const install = (app: FastifyInstance): void => {
    app.addHook("onSend", async (request, reply, payload) => {
      const doc = docOf(app);
      const route = request.routeOptions.url;
      // No route (404 of the catch-all), the HTML reference and the dashboard's files are not API operations.
      if (route === undefined || route === "/docs" || route === "/docs/" || route.startsWith("/docs/") || route.startsWith("/dashboard")) return payload;
      const path = route.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
      const what = `${request.method} ${path} → ${reply.statusCode}`;
      const op = doc.paths[path]?.[request.method.toLowerCase()];
      if (op === undefined) {
        problems.push(`${what}: no such operation in the OpenAPI document`);
        return payload;
      }
      const documented = op.responses?.[String(reply.statusCode)];
      if (documented === undefined) {
        problems.push(`${what}: status not documented (documented: ${Object.keys(op.responses ?? {}).join(", ")})`);
        return payload;
      }
      const schema = documented.content?.["application/json"]?.schema;
      const type = String(reply.getHeader("content-type") ?? "");
      if (schema === undefined || !type.startsWith("application/json") || typeof payload !== "string") return payload;
      let validate: ValidateFunction;
      try {
        validate = validatorOf(schema);
      } catch (e) {
        problems.push(`${what}: its documented schema does not compile: ${String(e)}`);
        return payload;
      }
      if (!validate(JSON.parse(payload))) problems.push(`${what}: body does not match its schema: ${ajv.errorsText(validate.errors)} in ${payload.slice(0, 300)}`);
      return payload;
    });
  };
  return { install, problems };
}

/** Fail (at the fixture's close) with every answer that broke the document's promise. */
export function assertResponsesDocumented(problems: string[]): void {
  if (problems.length > 0) throw new Error(`answers the OpenAPI document does not promise (gateway/openapi.ts):\n  ${[...new Set(problems)].join("\n  ")}`);
}

/** OpenAPI 3.0 writes an exclusive bound as draft 4 did (`minimum: 0, exclusiveMinimum: true`); Ajv reads draft 7. */
function draft7(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(draft7);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = draft7(v);
  for (const [flag, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (typeof out[flag] === "boolean") {
      if (out[flag] === true && typeof out[bound] === "number") out[flag] = out[bound];
      else delete out[flag];
      if (typeof out[flag] === "number") delete out[bound];
    }
  }
  return out;
}
