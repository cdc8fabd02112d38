import { metrics } from "@opentelemetry/api";

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
  postponed: meter.createCounter("sluice_messages_postponed", { description: "messages handed back without an attempt (destination busy or suspended)" }),
  throttled: meter.createCounter("sluice_destination_throttled", { description: "times a destination's rate was cut after a throttle reply" }),
};
