import { metrics, type MeterProvider } from "@opentelemetry/api";
import type { SourceStats } from "../../protocol/index.ts";

function counters(provider: MeterProvider) {
  const m = provider.getMeter("sluice");
  return {
    sent: m.createCounter("sluice_source_messages", { description: "sends from an egress source to a destination, whatever the reply (by source and destination)" }),
    suspended: m.createCounter("sluice_source_suspended", { description: "times an egress source was suspended because its address is not on this host" }),
  };
}
let countersFor: MeterProvider | undefined;
let made: ReturnType<typeof counters> | undefined;

/** The counters of the meter provider in force (made again if telemetry started after this module loaded). */
export function egressMetrics(): ReturnType<typeof counters> {
  const provider = metrics.getMeterProvider();
  if (made === undefined || provider !== countersFor) {
    countersFor = provider;
    made = counters(provider);
  }
  return made;
}

/** What a live destination reports per source for the warm-up gauges. */
export interface SourceStatsSource {
  readonly key: string;
  sourceStats(): SourceStats[];
}

const live = new Set<SourceStatsSource>();
let gaugesFor: MeterProvider | undefined;

/**
 * `sluice_source_warmup_day`, `sluice_source_warmup_cap` and `sluice_source_warmup_remaining`,
 * labelled `source` and `destination`, for sources on a warm-up ramp; read at scrape time.
 * Bound to the meter provider of the moment, as the destination limit gauges are.
 */
export function observeSources(d: SourceStatsSource): () => void {
  const provider = metrics.getMeterProvider();
  if (provider !== gaugesFor) {
    gaugesFor = provider;
    const m = provider.getMeter("sluice");
    const day = m.createObservableGauge("sluice_source_warmup_day", { description: "Day of its warm-up ramp an egress source is on (0 = first), per destination group" });
    const cap = m.createObservableGauge("sluice_source_warmup_cap", { description: "Today's warm-up cap of an egress source per destination group" });
    const remaining = m.createObservableGauge("sluice_source_warmup_remaining", { description: "What is left of today's warm-up cap of an egress source per destination group, cluster-wide" });
    m.addBatchObservableCallback(
      (result) => {
        for (const dest of live) {
          for (const s of dest.sourceStats()) {
            if (s.warmup === undefined) continue;
            const labels = { source: s.name, destination: dest.key };
            result.observe(day, s.warmup.day, labels);
            result.observe(cap, s.warmup.cap, labels);
            result.observe(remaining, s.warmup.remaining, labels);
          }
        }
      },
      [day, cap, remaining],
    );
  }
  live.add(d);
  return () => live.delete(d);
}
