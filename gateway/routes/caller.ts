import type { FastifyRequest } from "fastify";
import type { Scope } from "../../protocol/index.ts";
import { authOf, hasScope, missingScope, type AuthInfo } from "../auth.ts";

/**
 * The caller with a scope check, for routes that act on the caller's tenant. Errors are
 * thrown as HttpError or SluiceError and answered by the gateway's one error handler.
 */
export function callerOf(request: FastifyRequest, scope: Scope): AuthInfo {
  const auth = authOf(request);
  if (!hasScope(auth, scope)) throw missingScope(auth, scope);
  return auth;
}
