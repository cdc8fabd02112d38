import { pino, type Logger } from "pino";
import { describeConfig, type Config } from "../protocol/index.ts";
import { traceLogMixin } from "../protocol/telemetry/index.ts";

export function createLogger(config: Pick<Config, "logLevel">, name: string): Logger {
  return pino({ name, level: config.logLevel, base: { pid: process.pid }, mixin: traceLogMixin });
}

/** One start-up line with the configuration this process runs with (secrets masked): `sluice config` can only show its own shell's. */
export function logEffectiveConfig(logger: Logger, config: Config): void {
  logger.info({ config: describeConfig(config) }, "configuration");
}
