import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { connectNats, STREAMS, type Config } from "../protocol/index.ts";
import { authenticate, KEY_CACHE_MS } from "./auth.ts";
import type { GatewayContext } from "./context.ts";
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
import { webhookRoutes } from "./routes/webhooks.ts";
import { statusRoutes } from "./routes/status.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { statsRoutes } from "./routes/stats.ts";
import { traceRoutes } from "./tracing.ts";

export interface Gateway {
  app: FastifyInstance;
  /** The port actually bound (useful with SLUICE_HTTP_PORT=0 in tests). */
  port: number;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** How long a key lookup is cached (revocation delay). */
  keyCacheMs?: number;
}

/**
 * Start the HTTP gateway. It listens at once, even while NATS is unreachable, so that
 * health checks answer and mail requests get 503 instead of a refused connection.
 */
export async function startGateway(config: Config, logger: Logger, injected?: NatsConnection, options: GatewayOptions = {}): Promise<Gateway> {
  const state = new NatsState(config, logger);
  if (injected) state.attach(injected);
  const connecting = injected
    ? Promise.resolve()
    : connectNats(config.nats, "sluice-gateway", { waitOnFirstConnect: true, noAsyncTraces: true, coalesceWrites: true }).then((c) => {
        state.attach(c);
        logger.info({ servers: config.nats.servers }, "gateway connected to NATS");
      });
  connecting.catch((e: unknown) => logger.error({ err: e }, "gateway could not connect to NATS"));

  const ctx: GatewayContext = {
    config,
    logger,
    nats: () => state.connection(),
    deps: () => state.deps(),
    ready: async () => {
      const nc = state.connection();
      if (!nc || nc.isClosed()) return { ok: false, reason: "not connected to NATS" };
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        await jsm.streams.info(STREAMS.send);
        return { ok: true };
      } catch (e) {
        return { ok: false, reason: `JetStream topology not available: ${e instanceof Error ? e.message : String(e)}` };
      }
    },
  };

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
  requireHost(app);
  const auth = authenticate(state, config.keyRatePerSecond, options.keyCacheMs ?? KEY_CACHE_MS);
  app.addHook("onRequest", async (request, reply) => {
    // The matched route's pattern, not the raw URL: an encoded path cannot slip past.
    const path = request.routeOptions.url ?? request.url;
    if (path.startsWith("/v1/") || request.url.startsWith("/v1/") || path === "/metrics") await auth.call(app, request, reply, () => undefined);
  });

  traceRoutes(app);
  healthRoutes(app, ctx);
  docsRoutes(app);
  messageRoutes(app, ctx);
  batchRoutes(app, ctx);

  dlqRoutes(app, ctx);
  suppressionRoutes(app, ctx);
  webhookRoutes(app, ctx);
  statusRoutes(app, ctx);
  metricsRoutes(app);
  statsRoutes(app, ctx);
  dashboardRoutes(app);
  await app.listen({ host: config.http.host, port: config.http.port });
  const addr = app.server.address();
  const port = typeof addr === "object" && addr ? addr.port : config.http.port;
  logger.info({ port }, "gateway listening");

  return {
    app,
    port,
    close: async () => {
      await app.close();
      const nc = state.connection();
      if (!injected && nc) await nc.drain().catch(() => undefined);
    },
  };
}
