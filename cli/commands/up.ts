import { join } from "node:path";
import { startClusterNode } from "../../actors/cluster/index.ts";
import { startMetricsServer } from "../../actors/metrics-server.ts";
import { startNodeServices } from "../../actors/services.ts";
import { observeNodeStats } from "../../protocol/telemetry/index.ts";
import { startGateway } from "../../gateway/index.ts";
import {
  loadConfig,
  simulatorAddressLines,
  withCatchAll,
  type Config,
  assertSecretKey,
} from "../../protocol/index.ts";
import { connectNats } from "../../protocol/io/index.ts";
import { startCaptureServer, type CaptureServer } from "../capture-server.ts";
import { onShutdown } from "../lifecycle.ts";
import { createLogger, logEffectiveConfig } from "../logger.ts";

export const help = `sluice up

Everything in one process, for trying Sluice on one machine: the gateway, one actor node
and, in the local profile (the default for 'up'), a capture SMTP server on
SLUICE_CAPTURE_PORT that every route points to; delivered mail lands as .eml files in
SLUICE_DATA_DIR/outbox. Set SLUICE_PROFILE=production to deliver by MX instead.

In every profile, mail to these addresses is answered inside the node, with no network
and the real events, statuses and webhooks (a +tag is allowed: bounce+7@simulator.invalid):

${simulatorAddressLines().map((l) => `  ${l}`).join("\n")}`;

export async function run(): Promise<void> {
  const profile = process.env.SLUICE_PROFILE ?? "local";
  let config: Config = loadConfig(process.env, { SLUICE_PROFILE: profile, SLUICE_NODE_ROLES: "all" });
  assertSecretKey(config);
  const logger = createLogger(config, "sluice");
  let capture: CaptureServer | undefined;
  if (config.profile === "local") {
    capture = await startCaptureServer(config.capturePort, join(config.dataDir, "outbox"), logger);
    config = { ...config, routes: withCatchAll(config.routes, "127.0.0.1", capture.port) };
  }
  logEffectiveConfig(logger, config);
  const nc = await connectNats(config.nats, "sluice-up", { waitOnFirstConnect: true, noAsyncTraces: true, coalesceWrites: true });
  // A cluster member like any `sluice node`: alone it holds every partition, and nodes
  // started beside it share them instead of consuming the same queues twice. It creates
  // the topology, so the gateway (whose /healthz `make run` waits for) comes up after it.
  const node = await startClusterNode(config, logger, nc);
  const services = await startNodeServices(nc, config, logger);
  const gateway = await startGateway(config, logger, nc);
  observeNodeStats(() => node.node.stats());
  // The gateway serves /metrics too, so in this all-in-one mode a busy port is not fatal.
  const metrics = await startMetricsServer(config.metricsPort, logger).catch((e: unknown) => {
    logger.warn({ err: e, port: config.metricsPort }, "node metrics port unavailable; /metrics is still served by the gateway");
    return undefined;
  });
  logger.info({ url: `http://127.0.0.1:${gateway.port}`, profile: config.profile }, "sluice is up");
  onShutdown(logger, config.shutdownTimeoutMs, async () => {
    await gateway.close();
    await services.close();
    await node.close();
    await metrics?.close();
    await nc.drain();
    await capture?.close();
  });
}
