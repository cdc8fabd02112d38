// A fan-out actor in its own process, so that a test can kill -9 it mid-batch.
// Usage: node --import tsx test/integration/fanout-worker.ts <nats-url> <partitions>
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { startFanout } from "../../actors/fanout/index.ts";

const [url, partitions] = process.argv.slice(2);
const nc = await connect({ servers: url });
startFanout(nc, { partitions: Number(partitions) }, pino({ level: "warn" }));
process.stdout.write("ready\n");
// Bounded: never outlives a test that forgot it.
setTimeout(() => process.exit(3), 120_000).unref();
setInterval(() => undefined, 1 << 30);
