import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FastifyReply, FastifyRequest } from "fastify";
import { isSluiceError, KV_BUCKETS } from "../../protocol/index.ts";
import type { GatewayContext } from "../context.ts";

/**
 * What the failure-path routes (dlq, suppressions, webhooks, status) share: who is calling,
 * the error shape, and the NATS handles they need.
 *
 * The caller comes from `request.auth`, set by the gateway's authentication hook
 * (gateway/auth.ts). Until that is on main this reads it structurally; once it is, `callerOf`
 * can become `authOf` and `allowed` can become the `requireScope` preHandler.
 */
export interface Caller {
  tenant: string;
  scopes: readonly string[];
}

export class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function callerOf(request: FastifyRequest, scope: "read" | "admin" | "send"): Caller {
  const auth = (request as unknown as { auth?: Caller }).auth;
  if (auth === undefined) throw new RouteError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>", undefined, { "www-authenticate": "Bearer" });
  if (!auth.scopes.includes(scope) && !auth.scopes.includes("admin")) throw new RouteError(403, "forbidden", `this API key lacks the "${scope}" scope`);
  return auth;
}

/** `{"error": {"code", "message", "field"?}}` with the status of the error. */
export function sendError(reply: FastifyReply, e: unknown): FastifyReply {
  if (e instanceof RouteError) {
    reply.code(e.status).headers(e.headers);
    return reply.send({ error: e.field === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, field: e.field } });
  }
  if (isSluiceError(e)) {
    if (e.kind === "validation") return reply.code(400).send({ error: e.toJSON() });
    if (e.kind === "temporary") return reply.code(503).header("retry-after", "5").send({ error: { code: e.code, message: e.message } });
  }
  throw e;
}

/** Run a handler and answer its RouteError / SluiceError in the common shape. */
export function guarded<R>(handler: (request: FastifyRequest, reply: FastifyReply) => Promise<R>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<R | FastifyReply> => {
    try {
      return await handler(request, reply);
    } catch (e) {
      return sendError(reply, e);
    }
  };
}

export interface FailureHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  suppressions: KV;
  status: KV;
  webhooks: KV;
}

const opened = new WeakMap<NatsConnection, Promise<FailureHandles>>();

/** Opened once per connection; 503 while NATS is away. */
export async function handlesOf(ctx: GatewayContext): Promise<FailureHandles> {
  const nc = ctx.nats();
  if (nc === undefined || nc.isClosed()) throw new RouteError(503, "nats_unavailable", "the message store is unreachable; try again shortly", undefined, { "retry-after": "2" });
  let handles = opened.get(nc);
  if (handles === undefined) {
    handles = (async () => {
      const kvm = new Kvm(nc);
      return {
        nc,
        js: jetstream(nc),
        jsm: await jetstreamManager(nc),
        suppressions: await kvm.open(KV_BUCKETS.suppressions),
        status: await kvm.open(KV_BUCKETS.status),
        webhooks: await kvm.open(KV_BUCKETS.webhooks),
      };
    })();
    handles.catch(() => opened.delete(nc));
    opened.set(nc, handles);
  }
  return handles;
}
