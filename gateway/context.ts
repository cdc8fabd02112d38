import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Config } from "../protocol/index.ts";
import type { SenderDomains } from "./domain-guard.ts";
import type { GatewayDeps } from "./nats-state.ts";
import type { TenantQuota } from "./tenant-quota.ts";

/** What every route may use; built once by the server. */
export interface GatewayContext {
  config: Config;
  logger: Logger;
  nats(): NatsConnection | undefined;
  ready(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** JetStream client and stores; throws a temporary error (answered 503 + Retry-After) while NATS is away. */
  deps(): Promise<GatewayDeps>;
  /** Sender domains: the resolver for verification and the verified-sender check (403 domain_not_verified). */
  domains: SenderDomains;
  /** Tenant settings and daily quotas, shared by every route of this gateway. */
  quota: TenantQuota;
}
