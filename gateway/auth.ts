import type { FastifyReply, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from "fastify";
import { LRUCache } from "lru-cache";
import { hashApiKey, keyRateCounterKey, KV_BUCKETS, type ApiKeyRecord, type Scope } from "../protocol/index.ts";
import { lookupApiKey, publishFailure } from "../protocol/io/index.ts";
import { ClusterRate } from "./cluster-rate.ts";
import { HttpError } from "./http-error.ts";
import type { NatsState } from "./nats-state.ts";

export interface AuthInfo {
  tenant: string;
  keyId: string;
  scopes: Scope[];
  /** May see cluster-wide figures of every tenant (GET /v1/stats); see protocol/api-keys.ts. */
  operator: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    auth?: AuthInfo;
  }
}

/**
 * How long a key lookup is trusted: a revoked key stops working within this time. One KV
 * get per request would cost more than the rest of the request at thousands a second.
 */
export const KEY_CACHE_MS = 2000;

type Known = (ApiKeyRecord & { keyId: string }) | null;

/**
 * onRequest hook for /v1: `Authorization: Bearer <key>` → `request.auth`, or 401. Runs
 * before the body is read, so an unauthenticated 50 MB upload is refused unread. Also
 * applies the key's rate (429 with Retry-After), cluster-wide (./cluster-rate.ts: no UTC
 * second admits more than the rate across all gateways).
 */
export function authenticate(nats: NatsState, defaultRate: number, cacheMs = KEY_CACHE_MS): onRequestHookHandler {
  const cache = new LRUCache<string, { known: Known }>({ max: 10_000, ttl: cacheMs });
  const limiter = new ClusterRate(async () => (await nats.deps()).kvm.open(KV_BUCKETS.tenantRates), keyRateCounterKey);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    const key = m?.[1];
    if (key === undefined) throw new HttpError(401, "unauthorized", whyNoKey(header), undefined, { "www-authenticate": "Bearer" });
    const hash = hashApiKey(key);
    let cached = cache.get(hash);
    if (cached === undefined) {
      const deps = await nats.deps(); // 503 while NATS is away: we cannot tell a good key from a bad one
      cached = { known: (await lookupApiKey(deps.keys, key)) ?? null };
      cache.set(hash, cached);
    }
    const known = cached.known;
    if (known === null) {
      throw new HttpError(401, "unauthorized", "invalid or revoked API key", undefined, { "www-authenticate": "Bearer" });
    }
    const rate = known.rate ?? defaultRate;
    if (rate > 0) {
      const over = await limiter.take(known.keyId, 1, rate).catch((e: unknown) => {
        throw publishFailure(e); // the shared counter is out of reach: 503, like the write would be
      });
      if (over !== undefined) {
        throw new HttpError(429, "rate_limited", `API key ${known.keyId} is over its rate of ${rate} requests per second (cluster-wide; ${over.used} this second)`, undefined, { "retry-after": "1" });
      }
    }
    request.auth = { tenant: known.tenant, keyId: known.keyId, scopes: known.scopes, operator: known.operator === true };
    void reply;
  };
}

/** True when the key may do `scope`; admin may do everything. */
export const hasScope = (auth: AuthInfo, scope: Scope): boolean => auth.scopes.includes(scope) || auth.scopes.includes("admin");

/** preHandler: 401 without authentication, 403 without `scope`. */
export function requireScope(scope: Scope): preHandlerHookHandler {
  return async (request: FastifyRequest) => {
    const auth = request.auth;
    if (auth === undefined) throw new HttpError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>");
    if (!hasScope(auth, scope)) throw missingScope(auth, scope);
  };
}

/** A 403 that says how to get a key that may: the scopes it has plus the one it lacks. */
export function missingScope(auth: AuthInfo, scope: Scope): HttpError {
  const wanted = [...new Set([...auth.scopes, scope])].join(",");
  return new HttpError(403, "forbidden", `this API key lacks the "${scope}" scope; create one that has it: sluice keys create --tenant ${auth.tenant} --scopes ${wanted}`);
}

/**
 * preHandler for figures that cover every tenant (node telemetry, Prometheus metrics): an
 * operator key with `scope`, else 403. A tenant's own key never sees another tenant's figures.
 */
export function requireOperator(scope: Scope): preHandlerHookHandler {
  return async (request: FastifyRequest) => {
    const auth = request.auth;
    if (auth === undefined) throw new HttpError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>", undefined, { "www-authenticate": "Bearer" });
    if (!auth.operator) throw new HttpError(403, "forbidden", "these figures cover every tenant: they take an operator key (sluice keys create --operator)");
    if (!hasScope(auth, scope)) throw missingScope(auth, scope);
  };
}

/** The authenticated caller of a route guarded by requireScope. */
export function authOf(request: FastifyRequest): AuthInfo {
  const auth = request.auth;
  if (auth === undefined) throw new HttpError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>");
  return auth;
}

/** What is wrong with an Authorization header that carries no usable key: the fix, not just "401". */
export function whyNoKey(header: string | undefined): string {
  if (header === undefined || header.trim() === "") return "missing API key: send Authorization: Bearer <key>";
  const scheme = /^(\S+)(\s+\S.*)?$/.exec(header.trim());
  if (scheme?.[1]?.toLowerCase() === "bearer") return "the Authorization header says Bearer but carries no key: send Authorization: Bearer <key>";
  if (scheme?.[2] === undefined) return 'the Authorization header has no "Bearer " prefix: send Authorization: Bearer <key>, not the bare key';
  return `the Authorization scheme is ${JSON.stringify(scheme[1]?.slice(0, 20) ?? "")}; API keys go as Authorization: Bearer <key>`;
}
