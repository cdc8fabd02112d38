import Fastify, { type FastifyInstance } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { newId, recipientId, type Config, type DeliveryMessage } from "../../../protocol/index.ts";
import type { GatewayContext } from "../../../gateway/context.ts";
import { installErrorHandling } from "../../../gateway/http-error.ts";
import { NatsState } from "../../../gateway/nats-state.ts";
import { SenderDomains } from "../../../gateway/domain-guard.ts";
import { TenantQuota } from "../../../gateway/tenant-quota.ts";

export const silent = pino({ level: "silent" });

/**
 * A Fastify app with only the routes under test and a test-only stand-in for the gateway's
 * API-key hook: `x-test-tenant` and `x-test-scopes` become `request.auth`.
 */
export async function testApp(nc: NatsConnection, config: Config, register: (app: FastifyInstance, ctx: GatewayContext) => void): Promise<FastifyInstance> {
  const app = Fastify();
  installErrorHandling(app);
  app.addHook("onRequest", async (request) => {
    const tenant = request.headers["x-test-tenant"];
    if (typeof tenant === "string") {
      const scopes = String(request.headers["x-test-scopes"] ?? "read,admin").split(",");
      (request as unknown as { auth: unknown }).auth = { tenant, keyId: "test", scopes };
    }
  });
  const state = new NatsState(config, silent);
  state.attach(nc);
  const ctx: GatewayContext = { config, logger: silent, nats: () => nc, ready: async () => ({ ok: true }), deps: () => state.deps(), domains: new SenderDomains(config, async () => (await state.deps()).domains),
    quota: new TenantQuota(async () => (await state.deps()).kvm, config.quotaBlock, silent),
  };
  register(app, ctx);
  await app.ready();
  return app;
}

export function deliveryMessage(tenant: string, rcptTo: string, overrides: Partial<DeliveryMessage> = {}): DeliveryMessage {
  const requestId = newId();
  return {
    v: 1,
    id: recipientId(requestId, 0),
    requestId,
    tenant,
    tier: "transactional",
    mailFrom: "app@sender.test",
    rcptTo,
    payload: { inline: { from: { address: "app@sender.test" }, subject: "Hello", text: "Hi" } },
    createdAt: Date.now() - 60_000,
    attempts: [],
    ...overrides,
  };
}
