import { connect } from "@nats-io/transport-node";
import { pino } from "pino";
import { startScheduler } from "../../../actors/scheduler/index.ts";
import { loadConfig } from "../../../protocol/index.ts";
import { AckedPublisher, type AckedMessage } from "../../../protocol/io/index.ts";

/**
 * A scheduler in a process of its own, for the crash test: it prints {"leader": true} once it
 * leads, and with CRASH_AFTER_SEND=n it kills itself with SIGKILL in the middle of its first
 * release — after n messages of a window reached MAIL_SEND, before the rest were published
 * and before the release was recorded as done.
 */
const crashAfter = Number(process.env.CRASH_AFTER_SEND ?? "0");
const publish = AckedPublisher.prototype.publish;
AckedPublisher.prototype.publish = async function (this: AckedPublisher, messages: AckedMessage[], timeoutMs: number): Promise<void> {
  const sends = messages.map((m, i) => (m.subject.startsWith("mail.send.") ? i : -1)).filter((i) => i >= 0);
  if (crashAfter > 0 && sends.length > crashAfter) {
    await publish.call(this, messages.slice(0, (sends[crashAfter - 1] as number) + 1), timeoutMs);
    console.log(JSON.stringify({ crashing: true, published: crashAfter }));
    process.kill(process.pid, "SIGKILL");
    await new Promise(() => undefined);
  }
  return publish.call(this, messages, timeoutMs);
};

const config = loadConfig(process.env);
const nc = await connect({ servers: config.nats.servers });
const scheduler = await startScheduler(nc, config, pino({ level: process.env.TEST_LOG ? "info" : "silent" }));
const timer = setInterval(() => {
  if (scheduler.isLeader()) {
    console.log(JSON.stringify({ leader: true }));
    clearInterval(timer);
  }
}, 50);
