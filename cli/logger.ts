import { pino, type Logger } from "pino";
import type { Config } from "../protocol/index.ts";
import { traceLogMixin } from "../protocol/telemetry/index.ts";

export function createLogger(config: Pick<Config, "logLevel">, name: string): Logger {
  return pino({ name, level: config.logLevel, base: { pid: process.pid }, mixin: traceLogMixin });
}
