import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { metrics } from "@opentelemetry/api";
import type { Logger } from "pino";
import { encode, subjects, VOLUME_HOURS, type ScheduledVolume } from "../../protocol/index.ts";
import { readScheduledVolume } from "../../protocol/io/index.ts";

const volumeGauge = metrics.getMeter("sluice").createObservableGauge("sluice_scheduled_recipients", {
  description: "Scheduled recipients the next hours will release (hours_ahead 1..24: that hour; later: beyond), as the scheduler leader last counted",
});
/** How often the leader counts the scheduled volume (it reads every record). */
const VOLUME_EVERY_MS = 15_000;

/**
 * The leader's count of what the next hours will release: a gauge on this process's
 * /metrics (only while leading: one series per cluster) and a snapshot on core NATS for
 * `sluice top`.
 */
export class VolumeCounter {
  #volume: ScheduledVolume | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  readonly #observe = (r: { observe(v: number, a: Record<string, string>): void }): void => {
    const v = this.#volume;
    if (!this.#running || v === undefined) return;
    for (let h = 0; h < VOLUME_HOURS; h++) r.observe(v.hours[h] ?? 0, { hours_ahead: String(h + 1) });
    r.observe(v.later, { hours_ahead: "later" });
  };

  constructor(
    private readonly nc: NatsConnection,
    private readonly schedules: KV,
    private readonly now: () => number,
    private readonly logger: Logger,
  ) {
    volumeGauge.addCallback(this.#observe);
  }

  start(): void {
    this.#running = true;
    void this.#count();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  close(): void {
    this.stop();
    volumeGauge.removeCallback(this.#observe);
  }

  async #count(): Promise<void> {
    if (!this.#running) return;
    try {
      this.#volume = await readScheduledVolume(this.schedules, this.now());
      if (!this.nc.isClosed()) this.nc.publish(subjects.scheduleVolume, encode(this.#volume));
    } catch (e) {
      this.logger.warn({ err: e }, "could not count the scheduled volume");
    }
    if (this.#running) this.#timer = setTimeout(() => void this.#count(), VOLUME_EVERY_MS);
  }
}
