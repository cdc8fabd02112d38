import type { FastifyInstance } from "fastify";
import {
  eventId,
  matchingAddress,
  requestOf,
  unsubscribeKey,
  verifyUnsubscribeToken,
  type MailEvent,
  type UnsubscribeClaim,
} from "../../protocol/index.ts";
import { addSuppression, publishEvent } from "../../protocol/io/index.ts";
import type { GatewayContext } from "../context.ts";
import { HttpError } from "../http-error.ts";

/**
 * One-click unsubscribe (RFC 8058): the List-Unsubscribe https link of bulk mail. No API key:
 * the token is signed (protocol/inbound/unsubscribe-token.ts) and names the tenant, the
 * recipient id and the address, so it can unsubscribe that address from that tenant and
 * nothing else. POST (what mail clients send, body `List-Unsubscribe=One-Click`) suppresses
 * the address with reason `unsubscribe` and publishes an `unsubscribed` event (webhooks, status);
 * GET only shows a page with a button that POSTs, because link scanners and prefetchers
 * follow GET links that no person clicked.
 */
export function unsubscribeRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  const secret = ctx.config.secretKey;
  if (secret === undefined) return; // no signed links are sent without the secret
  const key = unsubscribeKey(secret);
  const claimOf = (params: unknown): UnsubscribeClaim => {
    const token = (params as { token?: string }).token ?? "";
    const claim = verifyUnsubscribeToken(key, token);
    if (claim === undefined) throw new HttpError(404, "not_found", "this unsubscribe link is not valid");
    return claim;
  };

  void app.register(async (scope) => {
    // RFC 8058 bodies are form-encoded; their content does not matter (the link is the request).
    scope.addContentTypeParser(["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"], { parseAs: "string", bodyLimit: 4096 }, (_req, body, done) => done(null, body));

    scope.get("/v1/unsubscribe/:token", async (request, reply) => {
      const claim = claimOf(request.params);
      reply.type("text/html; charset=utf-8");
      return `<!doctype html><meta charset="utf-8"><title>Unsubscribe</title><form method="post"><p>Unsubscribe ${escapeHtml(claim.address)} from these emails? <button type="submit">Unsubscribe</button></p></form>\n`;
    });

    scope.post("/v1/unsubscribe/:token", async (request, reply) => {
      const claim = claimOf(request.params);
      const { js, suppressions } = await ctx.deps();
      const address = matchingAddress(claim.address);
      const now = Date.now();
      await addSuppression(suppressions, claim.tenant, { address, reason: "unsubscribe", detail: `one-click unsubscribe from message ${claim.recipientId}`, at: now });
      await publishEvent(js, unsubscribedEvent(claim, address, now));
      reply.type("text/html; charset=utf-8");
      return `<!doctype html><meta charset="utf-8"><title>Unsubscribed</title><p>${escapeHtml(address)} is unsubscribed.</p>\n`;
    });
  });
}

function unsubscribedEvent(claim: UnsubscribeClaim, address: string, now: number): MailEvent {
  // One event per message however often its link is used (JetStream de-duplicates the id).
  const e: MailEvent = { v: 1, id: eventId(claim.recipientId, "unsubscribed"), type: "unsubscribed", tenant: claim.tenant, messageId: claim.recipientId, rcptTo: address, at: now, async: true, reason: "one-click unsubscribe" };
  const requestId = requestOf(claim.recipientId)?.requestId;
  if (requestId !== undefined) e.requestId = requestId;
  return e;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
