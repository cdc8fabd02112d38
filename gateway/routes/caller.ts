import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { FastifyRequest } from "fastify";
import { KV_BUCKETS, type Scope } from "../../protocol/index.ts";
import { authOf, hasScope, type AuthInfo } from "../auth.ts";
import { HttpError } from "../http-error.ts";
import type { GatewayContext } from "../context.ts";

/**
 * What the failure-path routes (dlq, suppressions, webhooks, status) share: the caller with
 * a scope check, and the NATS handles they need. Errors are thrown as HttpError or
 * SluiceError and answered by the gateway's one error handler.
 */
export function callerOf(request: FastifyRequest, scope: Scope): AuthInfo {
  const auth = authOf(request);
  if (!hasScope(auth, scope)) throw new HttpError(403, "forbidden", `this API key lacks the "${scope}" scope`);
  return auth;
}

export interface FailureHandles {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  suppressions: KV;
  status: KV;
  batchCounts: KV;
  webhooks: KV;
}

const opened = new WeakMap<NatsConnection, Promise<FailureHandles>>();

/** Opened once per connection; 503 while NATS is away. */
export async function handlesOf(ctx: GatewayContext): Promise<FailureHandles> {
  const nc = ctx.nats();
  if (nc === undefined || nc.isClosed()) throw new HttpError(503, "nats_unavailable", "the message store is unreachable; try again shortly", undefined, { "retry-after": "2" });
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
        batchCounts: await kvm.open(KV_BUCKETS.batchCounts),
        webhooks: await kvm.open(KV_BUCKETS.webhooks),
      };
    })();
    handles.catch(() => opened.delete(nc));
    opened.set(nc, handles);
  }
  return handles;
}
