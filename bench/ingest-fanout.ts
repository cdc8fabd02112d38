// The fan-out actor alone in its own process for bench/ingest.bench.ts.
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { startFanout } from "../actors/fanout/index.ts";

const [url, partitions] = process.argv.slice(2);
const nc = await connect({ servers: url });
const fanout = startFanout(nc, { partitions: Number(partitions) }, pino({ level: "warn" }));
process.stdout.write("ready\n");
process.on("SIGTERM", () => void fanout.close().then(() => nc.drain()).then(() => process.exit(0)));
setTimeout(() => process.exit(3), 30 * 60_000).unref();
