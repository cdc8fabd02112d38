import type { FastifyInstance } from "fastify";
import fastifySwagger from "@fastify/swagger";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { z } from "zod";
import { openApiDocument } from "./openapi.ts";
import { errorResponse, finishOperations } from "./openapi-dx.ts";

type Operation = Record<string, unknown> & { responses?: Record<string, { description?: string }> };
type Paths = Record<string, Record<string, Operation>>;

const SUCCESS: Record<string, string> = { "200": "OK", "201": "created", "202": "accepted", "204": "done" };

/**
 * The OpenAPI document, generated from the routes' own schemas: a route that declares
 * `schema` (zod objects — the very ones its handler validates with) is documented from it by
 * @fastify/swagger through fastify-type-provider-zod's JSON Schema transform; a route that
 * does not keeps its hand-written entry (gateway/openapi.ts). Either way the finishing pass
 * adds operationIds, sections and the errors the route's kind can answer.
 *
 * The schemas are documentation only: each handler parses its input with `check()` (our
 * error shape and codes), so the compilers fastify would run on them are no-ops. Call before
 * any route is added (the plugin collects routes as they are registered).
 */
export function installApiSpec(app: FastifyInstance): void {
  const base = openApiDocument() as { paths: Paths; components: { schemas: Record<string, unknown> } } & Record<string, unknown>;
  app.setValidatorCompiler(({ schema, method, url }) => {
    // A JSON Schema here would expect fastify to validate with it, and nothing would: refuse it loudly.
    if (!(schema instanceof z.ZodType)) throw new Error(`${method} ${url}: route schemas are zod here (documentation; the handler validates with check())`);
    return (data) => ({ value: data });
  });
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  void app.register(fastifySwagger, {
    openapi: { openapi: "3.0.3" },
    // Only routes with a schema of their own are generated; the others come from the hand-written part.
    transform: (input) => (input.schema === undefined || input.schema === null ? { schema: { hide: true }, url: input.url } : jsonSchemaTransform(input)),
    transformObject: (doc) => merge(base, ("openapiObject" in doc ? (doc.openapiObject.paths ?? {}) : {}) as Paths) as never,
  });
}

function merge(base: { paths: Paths; components: { schemas: Record<string, unknown> } } & Record<string, unknown>, generated: Paths): Record<string, unknown> {
  const paths: Paths = structuredClone(base.paths);
  for (const [path, ops] of Object.entries(generated)) {
    for (const [method, op] of Object.entries(ops)) {
      const responses = op.responses ?? {};
      for (const [status, r] of Object.entries(responses)) {
        if (Number(status) >= 400) responses[status] = errorResponse(status);
        else if (status === "204") responses[status] = { description: "done" };
        else if (r.description === "Default Response") r.description = SUCCESS[status] ?? "OK";
      }
      (paths[path] ??= {})[method] = op;
    }
  }
  finishOperations(paths);
  return { ...structuredClone(base), paths };
}
