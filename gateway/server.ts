import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { connectNats, STREAMS, type Config } from "../protocol/index.ts";
import type { GatewayContext } from "./context.ts";
import { healthRoutes } from "./routes/health.ts";
import { dashboardRoutes } from "./routes/dashboard.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { statsRoutes } from "./routes/stats.ts";

export interface Gateway {
  app: FastifyInstance;
  /** The port actually bound (useful with SLUICE_HTTP_PORT=0 in tests). */
  port: number;
  close(): Promise<void>;
}

/**
 * Start the HTTP gateway. It listens at once, even while NATS is unreachable, so that
 * health checks answer and mail requests get 503 instead of a refused connection.
 */
export async function startGateway(config: Config, logger: Logger, injected?: NatsConnection): Promise<Gateway> {
  let nc: NatsConnection | undefined = injected;
  const connecting = injected
    ? Promise.resolve()
    : connectNats(config.nats, "sluice-gateway", { waitOnFirstConnect: true }).then((c) => {
        nc = c;
        logger.info({ servers: config.nats.servers }, "gateway connected to NATS");
      });
  connecting.catch((e: unknown) => logger.error({ err: e }, "gateway could not connect to NATS"));

  const ctx: GatewayContext = {
    config,
    logger,
    nats: () => nc,
    ready: async () => {
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
  });
  healthRoutes(app, ctx);
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
      if (!injected && nc) await nc.drain().catch(() => undefined);
    },
  };
}
