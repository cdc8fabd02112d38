// The gateway alone in its own process for bench/ingest.bench.ts, so that its memory is
// measured apart from the load generator. Config from the environment; prints its port.
import { pino } from "pino";
import { startGateway } from "../gateway/index.ts";
import { loadConfig } from "../protocol/index.ts";

const gateway = await startGateway(loadConfig(), pino({ level: "warn" }));
process.stdout.write(`port ${gateway.port}\n`);
process.on("SIGTERM", () => void gateway.close().then(() => process.exit(0)));
setTimeout(() => process.exit(3), 30 * 60_000).unref(); // bounded, whatever happens to the parent
