import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  BatchJob,
  decode,
  KV_BUCKETS,
  OBJECT_STORES,
  STREAMS,
  type Config,
} from "../../protocol/index.ts";
import { AckedPublisher } from "../../protocol/io/index.ts";
import { expandJob, markUnreadableJob, type ExpandDeps } from "./expand.ts";
import { markReady } from "./scheduled.ts";

export const FANOUT_CONSUMER = "fanout";

export interface Fanout {
  /** Stop after the current window; an unfinished job goes back to JetStream (nak) and resumes from its checkpoint. */
  close(): Promise<void>;
}

/**
 * The fan-out actor: takes batch jobs from MAIL_JOBS (consumer `fanout`, shared by every
 * node), and publishes one MAIL_SEND message per recipient. Resumable without
 * duplicates: progress is checkpointed in KV `sluice_batches` after each window, and every
 * message carries its recipient id as msgID. One job at a time per process.
 */
export function startFanout(nc: NatsConnection, config: Pick<Config, "partitions">, logger: Logger): Fanout {
  const log = logger.child({ part: "fanout" });
  let stopped = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });

  const publisher = new AckedPublisher(nc);
  const running = (async () => {
    const js = jetstream(nc);
    let deps: ExpandDeps | undefined;
    while (!stopped) {
      try {
        deps ??= {
          publisher,
          maxPayload: nc.info?.max_payload ?? 1024 * 1024,
          payloads: await new Objm(js).open(OBJECT_STORES.payloads),
          batches: await new Kvm(js).open(KV_BUCKETS.batches),
          schedules: await new Kvm(js).open(KV_BUCKETS.schedules),
          partitions: config.partitions,
          logger: log,
          stopping: () => stopped,
        };
        const consumer = await js.consumers.get(STREAMS.jobs, FANOUT_CONSUMER);
        while (!stopped) {
          const msg = await consumer.next({ expires: 2000 });
          if (msg !== null) await handle(deps, msg);
        }
      } catch (e) {
        if (stopped) break;
        log.warn({ err: e }, "fan-out cannot reach JetStream; retrying");
        await pause(1000);
      }
    }
  })();

  async function handle(deps: ExpandDeps, msg: JsMsg): Promise<void> {
    const decoded = decode(BatchJob, msg.data, "batch job");
    if (!decoded.ok) {
      log.error({ err: decoded.error.message, seq: msg.seq }, "invalid batch job on MAIL_JOBS; dropping it");
      await markUnreadableJob(deps, msg.data, decoded.error.message).catch((e: unknown) => log.warn({ err: e }, "could not mark the invalid batch job failed"));
      msg.term();
      return;
    }
    try {
      const outcome = await expandJob(deps, msg, decoded.value);
      if (outcome === "stopped") return msg.nak();
      // Scheduled: everything that will ever be held is (failed recipients have their events); the scheduler may release.
      if (decoded.value.schedule !== undefined && deps.schedules !== undefined) await markReady(deps.schedules, publisher, decoded.value);
      await msg.ackAck(); // expanded, or failed with every recipient's failed event written
    } catch (e) {
      // NATS trouble or a full MAIL_SEND: the checkpoint holds; try again later, backing off.
      const delay = Math.min(60_000, 1000 * 2 ** Math.min(6, msg.info.deliveryCount));
      log.warn({ err: e, batchId: decoded.value.batchId, retryInMs: delay }, "batch fan-out interrupted; will resume from its checkpoint");
      msg.nak(delay);
    }
  }

  return {
    close: async () => {
      stopped = true;
      wake?.();
      await running;
      publisher.close();
    },
  };
}
