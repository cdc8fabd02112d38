// A bare ownership member in its own process, for tests that kill -9 it. It prints one
// JSON line per change, stamped with a clock every process on the machine shares:
//   {"ev":"starting"|"settled", "set":[...], "t":ms}   and {"ev":"ready"} once started.
import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { startOwnership } from "../../../actors/cluster/index.ts";
import { loadConfig } from "../../../protocol/index.ts";
import { modelNode } from "./exclusivity.ts";

const now = (): number => performance.timeOrigin + performance.now();
const say = (o: object): void => void process.stdout.write(JSON.stringify({ ...o, t: now() }) + "\n");

const config = loadConfig();
const drainMs = Number(process.env.TEST_DRAIN_MS ?? "100");
const nc = await connect({ servers: config.nats.servers, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
const logger = pino({ level: process.env.TEST_LOG ?? "silent" }, pino.destination(2));
const ownership = await startOwnership(nc, config, logger, {
  onChange: modelNode({ starting: (set) => say({ ev: "starting", set }), settled: (set) => say({ ev: "settled", set }) }, drainMs),
});
say({ ev: "ready" });
process.once("SIGTERM", () => {
  void ownership.stop().then(async () => {
    say({ ev: "stopped" });
    await nc.close();
    process.exit(0);
  });
});
