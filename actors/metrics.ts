import { metrics, type MeterProvider } from "@opentelemetry/api";

/**
 * Delivery counters (OpenTelemetry API; no-ops until a provider is registered).
 * The `domain` attribute is the destination key (a domain or an MX group), so its
 * cardinality is that of active destinations, not of recipients.
 */
const meter = metrics.getMeter("sluice");

export const deliveryMetrics = {
  delivered: meter.createCounter("sluice_messages_delivered", { description: "messages accepted (250) by the destination" }),
  deferred: meter.createCounter("sluice_messages_deferred", { description: "temporary failures handed back to JetStream for a retry" }),
  bounced: meter.createCounter("sluice_messages_bounced", { description: "permanent failures" }),
  deadLettered: meter.createCounter("sluice_messages_dead_lettered", { description: "messages written to MAIL_DLQ" }),
  suppressed: meter.createCounter("sluice_messages_suppressed", { description: "messages not sent because the address is suppressed" }),
  expired: meter.createCounter("sluice_messages_expired", { description: "messages not sent because their expiresAt passed (scheduling)" }),
  postponed: meter.createCounter("sluice_messages_postponed", { description: "messages handed back without an attempt (destination busy or suspended)" }),
  throttled: meter.createCounter("sluice_destination_throttled", { description: "times a destination's learned connection cap or rate was lowered after a refusal" }),
  stateChanges: meter.createCounter("sluice_destination_state_changes", { description: "state changes of destination actors, by the state entered" }),
};

/** What a live destination actor reports for the limit gauges. */
export interface LimitsSource {
  readonly key: string;
  limits(): { connections: number; rate: number; policy: { connections: number; rate: number } };
}

const liveDestinations = new Set<LimitsSource>();
let gaugesFor: MeterProvider | undefined;

/**
 * `sluice_destination_connections_limit` and `sluice_destination_rate_limit`, labelled
 * `destination` and `source`: `policy` is the configured limit, `learned` the limit in
 * force after what the destination's refusals taught (equal to the policy's when nothing
 * was learned). Both series are always reported: the SDK keeps an async gauge's last value
 * per label set, so a label that switched would leave a stale series behind. Read at
 * scrape time from the live destination actors of this process. Observable instruments bind to the meter provider
 * of the moment, so they are made when the first destination registers (after telemetry
 * started), and again if the provider changed. Returns the unregister function.
 */
export function observeDestinationLimits(d: LimitsSource): () => void {
  const provider = metrics.getMeterProvider();
  if (provider !== gaugesFor) {
    gaugesFor = provider;
    const m = provider.getMeter("sluice");
    const connections = m.createObservableGauge("sluice_destination_connections_limit", { description: "Connection cap per destination: the policy's, or lower when learned from its refusals" });
    const rate = m.createObservableGauge("sluice_destination_rate_limit", { description: "Messages per second allowed per destination: the policy's, or lower when learned from its refusals" });
    m.addBatchObservableCallback(
      (result) => {
        for (const dest of liveDestinations) {
          const l = dest.limits();
          result.observe(connections, l.policy.connections, { destination: dest.key, source: "policy" });
          result.observe(connections, l.connections, { destination: dest.key, source: "learned" });
          result.observe(rate, l.policy.rate, { destination: dest.key, source: "policy" });
          result.observe(rate, l.rate, { destination: dest.key, source: "learned" });
        }
      },
      [connections, rate],
    );
  }
  liveDestinations.add(d);
  return () => liveDestinations.delete(d);
}
