import { startGateway } from "../../gateway/index.ts";
import { assertSecretKey, loadConfig } from "../../protocol/index.ts";
import { onShutdown } from "../lifecycle.ts";
import { createLogger, logEffectiveConfig } from "../logger.ts";

export const help = `sluice gateway

Run the HTTP gateway alone (one role per process, for real deployments).
Listens on SLUICE_HTTP_HOST:SLUICE_HTTP_PORT and talks to NATS_URL.`;

export async function run(): Promise<void> {
  const config = loadConfig();
  assertSecretKey(config);
  const logger = createLogger(config, "sluice-gateway");
  logEffectiveConfig(logger, config);
  const gateway = await startGateway(config, logger);
  onShutdown(logger, config.shutdownTimeoutMs, () => gateway.close());
}
