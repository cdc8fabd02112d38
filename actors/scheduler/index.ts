import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { KV_BUCKETS, type Config } from "../../protocol/index.ts";
import { AckedPublisher } from "../../protocol/io/index.ts";
import { DueSeconds } from "./due-seconds.ts";
import { VolumeCounter } from "./volume.ts";
import { startLeaderLease } from "./lease.ts";
import { handleDue, type ReleaseDeps } from "./release.ts";

export const SCHEDULER_LEASE_KEY = "scheduler";

const releasedCounter = metrics.getMeter("sluice").createCounter("sluice_scheduled_released", { description: "Scheduled recipients handed to MAIL_SEND by the scheduler" });

export interface Scheduler {
  isLeader(): boolean;
  close(): Promise<void>;
}

export interface SchedulerOptions {
  /** How often the leader looks for due seconds. */
  tickMs?: number;
  now?: () => number;
}

/**
 * The scheduler: one leader in the cluster (a lease in KV `sluice_leaders`; any node can
 * take over) releases scheduled mail. While leading it follows the due entries (which
 * seconds have some: due-seconds.ts); every tick it hands the entries of each second that
 * has wholly passed to `handleDue` (release.ts), and it counts the volume ahead (volume.ts).
 */
export async function startScheduler(nc: NatsConnection, config: Pick<Config, "nodeId" | "leaseTtlMs">, logger: Logger, options: SchedulerOptions = {}): Promise<Scheduler> {
  const log = logger.child({ part: "scheduler" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const kvm = new Kvm(nc);
  const [schedules, leaders, tenants, counters] = await Promise.all([
    kvm.open(KV_BUCKETS.schedules),
    kvm.open(KV_BUCKETS.leaders),
    kvm.open(KV_BUCKETS.tenants),
    kvm.open(KV_BUCKETS.tenantCounters),
  ]);
  const publisher = new AckedPublisher(nc);
  const now = options.now ?? Date.now;
  const deps: ReleaseDeps = { js, jsm, schedules, publisher, logger: log, now, released: (n) => releasedCounter.add(n), quota: { tenants, counters } };
  const seconds = new DueSeconds(js, jsm, log);
  const volume = new VolumeCounter(nc, schedules, now, log);
  let timer: NodeJS.Timeout | undefined;
  let leading = false;
  let ticking: Promise<void> = Promise.resolve();

  const tick = async (): Promise<void> => {
    // A second is handled once it has wholly passed: nothing is released before its time.
    for (const second of seconds.passed(now())) {
      if (!leading) return;
      await seconds.handle(second, (e) => handleDue(deps, e)).catch((e: unknown) => log.warn({ err: e, second }, "due second not handled; retrying"));
    }
  };
  const loop = (): void => {
    if (!leading) return;
    ticking = tick().finally(() => {
      if (leading) timer = setTimeout(loop, options.tickMs ?? 250);
    });
  };
  const start = (): void => {
    seconds
      .follow()
      .then(() => (leading ? loop() : seconds.stop()))
      .catch((e: unknown) => {
        log.error({ err: e }, "scheduler cannot follow MAIL_SCHEDULED; retrying");
        if (leading) timer = setTimeout(start, 1000);
      });
  };
  const lead = (on: boolean): void => {
    leading = on;
    clearTimeout(timer);
    if (on) {
      start();
      volume.start();
    } else {
      seconds.stop();
      volume.stop();
    }
  };

  const lease = startLeaderLease({ kv: leaders, key: SCHEDULER_LEASE_KEY, nodeId: config.nodeId, ttlMs: config.leaseTtlMs, logger: log, onChange: lead });
  return {
    isLeader: () => lease.isLeader(),
    close: async () => {
      await lease.stop();
      lead(false);
      await ticking;
      volume.close();
      publisher.close();
    },
  };
}
