import type { Logger } from "pino";

/**
 * Run `stop` once on SIGINT/SIGTERM, then exit; a second signal exits at once. A stop that
 * has not finished after `timeoutMs` (SLUICE_SHUTDOWN_TIMEOUT: NATS went away first and a
 * drain waits for it, or a peer hangs) is given up: the process exits 1 and says so. What it
 * had not settled comes back from JetStream after the ack wait, as after a crash.
 */
export function onShutdown(logger: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, "shutting down");
    setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown did not finish within SLUICE_SHUTDOWN_TIMEOUT; exiting anyway (unsettled messages are redelivered after the ack wait)");
      process.exit(1);
    }, timeoutMs).unref();
    stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}
