import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { STREAMS, type Config, errorMessage } from "../protocol/index.ts";
import { connectNats } from "../protocol/io/index.ts";
import { authenticate, KEY_CACHE_MS } from "./auth.ts";
import type { GatewayContext } from "./context.ts";
import { installApiSpec } from "./api-spec.ts";
import { installErrorHandling } from "./http-error.ts";
import { installJsonBody } from "./json-body.ts";
import { clientErrorHandler, frameworkErrors, requireHost } from "./client-errors.ts";
import { NatsState } from "./nats-state.ts";
import { batchRoutes } from "./routes/batches.ts";
import { docsRoutes } from "./routes/docs.ts";
import { healthRoutes } from "./routes/health.ts";
import { messageRoutes } from "./routes/messages.ts";
import { dlqRoutes } from "./routes/dlq.ts";
import { suppressionRoutes } from "./routes/suppressions.ts";
import { unsubscribeRoutes } from "./routes/unsubscribe.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { statusRoutes } from "./routes/status.ts";
import { templateRoutes } from "./routes/templates.ts";
import { recipientRoutes } from "./routes/recipients.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { statsRoutes } from "./routes/stats.ts";
import { scheduleRoutes } from "./routes/schedule.ts";
import { traceRoutes } from "./tracing.ts";
import { SenderDomains } from "./domain-guard.ts";
import { domainRoutes } from "./routes/domains.ts";
import { TenantQuota } from "./tenant-quota.ts";
import { tenantRoutes } from "./routes/tenant.ts";

export interface Gateway {
  app: FastifyInstance;
  /** The port actually bound (useful with SLUICE_HTTP_PORT=0 in tests). */
  port: number;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** How long a key lookup is cached (revocation delay). */
  keyCacheMs?: number;
  /** Called on the app before any route is added: tests install their response check here. */
  configure?: (app: FastifyInstance) => void;
}

/** What the app is built from: the config, a logger, and the NATS connection as it comes and goes. */
export interface GatewayDependencies {
  config: Config;
  logger: Logger;
  nats: NatsState;
}

/**
 * Start the HTTP gateway. It listens at once, even while NATS is unreachable, so that
 * health checks answer and mail requests get 503 instead of a refused connection.
 */
export async function startGateway(config: Config, logger: Logger, injected?: NatsConnection, options: GatewayOptions = {}): Promise<Gateway> {
  const nats = new NatsState(config, logger);
  if (injected) nats.attach(injected);
  else connectInBackground(config, logger, nats);
  const app = buildGateway({ config, logger, nats }, options);
  await app.listen({ host: config.http.host, port: config.http.port });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.http.port;
  logger.info({ port }, "gateway listening");
  return {
    app,
    port,
    close: async () => {
      await app.close();
      const nc = nats.connection();
      // Draining a connection we opened ourselves; one the caller injected is theirs to close.
      if (!injected && nc) await nc.drain().catch((e: unknown) => logger.warn({ err: e }, "gateway: draining NATS on close failed"));
    },
  };
}

function connectInBackground(config: Config, logger: Logger, nats: NatsState): void {
  connectNats(config.nats, "sluice-gateway", { waitOnFirstConnect: true, noAsyncTraces: true, coalesceWrites: true })
    .then((c) => {
      nats.attach(c);
      logger.info({ servers: config.nats.servers }, "gateway connected to NATS");
    })
    .catch((e: unknown) => logger.error({ err: e }, "gateway could not connect to NATS"));
}

/**
 * The gateway as a fastify app, not listening: `app.inject()` drives it in tests, and
 * `startGateway` adds the socket. Public routes (health, docs, dashboard files) sit at the
 * root; everything that needs an API key — `/v1/*` and `/metrics` — is one encapsulated
 * plugin whose onRequest hook authenticates, so no route can be registered outside it by
 * accident of its path.
 */
export function buildGateway(deps: GatewayDependencies, options: GatewayOptions = {}): FastifyInstance {
  const { config, logger, nats } = deps;
  const ctx = contextOf(deps);
  const app: FastifyInstance = Fastify({
    loggerInstance: logger.child({ part: "gateway" }) as FastifyBaseLogger,
    // Per-request log lines cost more than the request itself at thousands a second;
    // outcomes are counted in metrics and errors are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    clientErrorHandler,
    frameworkErrors,
    http: { requireHostHeader: false }, // refused in our error shape by requireHost
  });
  // JSON only: a text/plain body is a 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser("text/plain");
  installJsonBody(app);
  installErrorHandling(app);
  installApiSpec(app);
  options.configure?.(app);
  requireHost(app);
  app.addHook("onClose", () => ctx.quota.close().catch((err: unknown) => logger.warn({ err }, "giving back quota reservations on close failed")));
  traceRoutes(app);

  healthRoutes(app, ctx);
  docsRoutes(app);
  dashboardRoutes(app);
  // Public like the health routes: the signed token is the authorisation (RFC 8058 one click).
  unsubscribeRoutes(app, ctx);

  const auth = authenticate(nats, config.keyRatePerSecond, options.keyCacheMs ?? KEY_CACHE_MS);
  void app.register(async (authenticated) => {
    authenticated.addHook("onRequest", auth);
    messageRoutes(authenticated, ctx);
    batchRoutes(authenticated, ctx);
    dlqRoutes(authenticated, ctx);
    suppressionRoutes(authenticated, ctx);
    webhookRoutes(authenticated, ctx);
    statusRoutes(authenticated, ctx);
    templateRoutes(authenticated, ctx);
    recipientRoutes(authenticated, ctx);
    statsRoutes(authenticated, ctx);
    domainRoutes(authenticated, ctx);
    metricsRoutes(authenticated);
    scheduleRoutes(authenticated, ctx); // scheduling: cancel, reschedule
    tenantRoutes(authenticated, ctx);
  });
  return app;
}

function contextOf({ config, logger, nats }: GatewayDependencies): GatewayContext {
  return {
    config,
    logger,
    quota: new TenantQuota(async () => (await nats.deps()).kvm, config.quotaBlock, logger),
    nats: () => nats.connection(),
    deps: () => nats.deps(),
    domains: new SenderDomains(config, async () => (await nats.deps()).domains),
    ready: async () => {
      const nc = nats.connection();
      if (!nc || nc.isClosed()) return { ok: false, reason: "not connected to NATS" };
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.streams.info(STREAMS.send);
        return { ok: true };
      } catch (e) {
        return { ok: false, reason: `JetStream topology not available: ${errorMessage(e)}` };
      }
    },
  };
}
