import { jetstream, jetstreamManager, DeliverPolicy, type ConsumerMessages } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { AckedPublisher, encode, KV_BUCKETS, purgeSubject, readDue, readScheduledVolume, STREAMS, subjects, VOLUME_HOURS, type Config, type DueEntry, type ScheduledVolume } from "../../protocol/index.ts";
import { startLeaderLease } from "./lease.ts";
import { handleDue, type ReleaseDeps } from "./release.ts";

export const SCHEDULER_LEASE_KEY = "scheduler";

const meter = metrics.getMeter("sluice");
const releasedCounter = meter.createCounter("sluice_scheduled_released", { description: "Scheduled recipients handed to MAIL_SEND by the scheduler" });
const volumeGauge = meter.createObservableGauge("sluice_scheduled_recipients", {
  description: "Scheduled recipients the next hours will release (hours_ahead 1..24: that hour; later: beyond), as the scheduler leader last counted",
});
/** How often the leader counts the scheduled volume (reads every record). */
const VOLUME_EVERY_MS = 15_000;

export interface Scheduler {
  isLeader(): boolean;
  close(): Promise<void>;
}

export interface SchedulerOptions {
  /** How often the leader looks for due seconds. */
  tickMs?: number;
  now?: () => number;
}

/** Entries of one second handled at once (those of one request one after another). */
const PARALLEL = 64;

/**
 * The scheduler: one leader in the cluster (a lease in KV `sluice_leaders`; any node can
 * take over) releases scheduled mail. While leading it follows every due entry's subject
 * (`mail.sched.due.<second>`) with an ordered consumer from the stream's start, keeping only
 * which seconds have entries and the last sequence seen in each. Once a second has passed
 * it reads that second's entries, hands each to `handleDue` (release.ts), and purges them
 * up to the last one read — an entry that arrives meanwhile stays for the next look.
 */
export async function startScheduler(nc: NatsConnection, config: Pick<Config, "nodeId" | "leaseTtlMs">, logger: Logger, options: SchedulerOptions = {}): Promise<Scheduler> {
  const log = logger.child({ part: "scheduler" });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const kvm = new Kvm(nc);
  const [schedules, leaders] = await Promise.all([kvm.open(KV_BUCKETS.schedules), kvm.open(KV_BUCKETS.leaders)]);
  const publisher = new AckedPublisher(nc);
  const now = options.now ?? Date.now;
  const deps: ReleaseDeps = { js, jsm, schedules, publisher, logger: log, now, released: (n) => releasedCounter.add(n) };

  /** Seconds with entries → the highest stream sequence seen in each. */
  const pending = new Map<number, number>();
  let index: ConsumerMessages | undefined;
  let timer: NodeJS.Timeout | undefined;
  let leading = false;
  let ticking: Promise<void> = Promise.resolve();
  let volume: ScheduledVolume | undefined;
  let volumeTimer: NodeJS.Timeout | undefined;
  const observeVolume = (r: { observe(v: number, a: Record<string, string>): void }): void => {
    if (!leading || volume === undefined) return; // a follower reports nothing: one series per cluster
    for (let h = 0; h < VOLUME_HOURS; h++) r.observe(volume.hours[h] ?? 0, { hours_ahead: String(h + 1) });
    r.observe(volume.later, { hours_ahead: "later" });
  };
  volumeGauge.addCallback(observeVolume);
  const countVolume = async (): Promise<void> => {
    if (!leading) return;
    try {
      volume = await readScheduledVolume(schedules, now());
      if (!nc.isClosed()) nc.publish(subjects.scheduleVolume, encode(volume));
    } catch (e) {
      log.warn({ err: e }, "could not count the scheduled volume");
    }
    if (leading) volumeTimer = setTimeout(() => void countVolume(), VOLUME_EVERY_MS);
  };

  const follow = async (): Promise<void> => {
    const consumer = await js.consumers.get(STREAMS.scheduled, { filter_subjects: subjects.schedDueAll, deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume();
    if (!leading) return void messages.stop();
    index = messages;
    void (async () => {
      for await (const m of messages) {
        const second = Number(m.subject.slice(m.subject.lastIndexOf(".") + 1));
        if (Number.isSafeInteger(second)) pending.set(second, Math.max(pending.get(second) ?? 0, m.seq));
      }
    })().catch((e: unknown) => log.warn({ err: e }, "scheduler index ended"));
  };

  const handleSecond = async (second: number): Promise<void> => {
    const { entries, lastSeq } = await readDue(js, jsm, second);
    const byRequest = new Map<string, DueEntry[]>();
    for (const e of entries) byRequest.set(e.value.requestId, [...(byRequest.get(e.value.requestId) ?? []), e.value]);
    const groups = [...byRequest.values()];
    let failed = 0;
    for (let i = 0; i < groups.length; i += PARALLEL) {
      const results = await Promise.allSettled(
        groups.slice(i, i + PARALLEL).map(async (list) => {
          for (const e of list) await handleDue(deps, e);
        }),
      );
      for (const r of results) if (r.status === "rejected") (failed++, log.warn({ err: r.reason as unknown, second }, "due entry not handled; retrying"));
    }
    if (failed > 0) return; // the entries stay; the next tick handles them again (idempotent)
    if (lastSeq > 0) await purgeSubject(jsm, subjects.schedDue(second), lastSeq);
    if ((pending.get(second) ?? 0) <= lastSeq) pending.delete(second);
  };

  const tick = async (): Promise<void> => {
    const current = Math.floor(now() / 1000);
    // A second is handled once it has wholly passed: nothing is released before its time.
    const due = [...pending.keys()].filter((s) => s < current).sort((a, b) => a - b);
    for (const second of due) {
      if (!leading) return;
      await handleSecond(second).catch((e: unknown) => log.warn({ err: e, second }, "due second not handled; retrying"));
    }
  };

  const loop = (): void => {
    if (!leading) return;
    ticking = tick().finally(() => {
      if (leading) timer = setTimeout(loop, options.tickMs ?? 250);
    });
  };

  const lead = (on: boolean): void => {
    leading = on;
    if (on) {
      pending.clear();
      const start = (): void => {
        follow()
          .then(loop)
          .catch((e: unknown) => {
            log.error({ err: e }, "scheduler cannot follow MAIL_SCHEDULED; retrying");
            if (leading) timer = setTimeout(start, 1000);
          });
      };
      start();
      void countVolume();
    } else {
      clearTimeout(timer);
      clearTimeout(volumeTimer);
      index?.stop();
      index = undefined;
    }
  };

  const lease = startLeaderLease({ kv: leaders, key: SCHEDULER_LEASE_KEY, nodeId: config.nodeId, ttlMs: config.leaseTtlMs, logger: log, onChange: lead });
  return {
    isLeader: () => lease.isLeader(),
    close: async () => {
      await lease.stop();
      lead(false);
      await ticking;
      volumeGauge.removeCallback(observeVolume);
      publisher.close();
    },
  };
}
