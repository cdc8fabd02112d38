import { metrics, type Counter, type Histogram, type MeterProvider } from "@opentelemetry/api";

/**
 * Metrics recorded through telemetry's own helpers (the gateway and node count their
 * outcomes in their own modules: sluice_messages_accepted, _delivered, _deferred, ...).
 * Instruments are made from the meter provider current at the time of use: the API has
 * no proxy meter, so an instrument created before `startTelemetry` would stay a no-op
 * forever. Recreating them when the provider changes costs one comparison per call.
 */

export interface SluiceInstruments {
  /** SMTP transaction time in seconds; attributes destination, outcome. */
  smtpDuration: Histogram;
  /** Time from an event's creation to its webhook POST being acknowledged, in seconds. */
  webhookLag: Histogram;
  /** Webhook POST attempts; attribute outcome. */
  webhookDeliveries: Counter;
}

let madeFor: MeterProvider | undefined;
let made: SluiceInstruments | undefined;

function make(provider: MeterProvider): SluiceInstruments {
  const m = provider.getMeter("sluice");
  return {
    smtpDuration: m.createHistogram("sluice_smtp_transaction_seconds", {
      description: "SMTP transaction duration, connection to reply",
      unit: "s",
      advice: { explicitBucketBoundaries: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] },
    }),
    webhookLag: m.createHistogram("sluice_webhook_lag_seconds", { description: "Delay from event to acknowledged webhook POST", unit: "s" }),
    webhookDeliveries: m.createCounter("sluice_webhook_deliveries", { description: "Webhook POST attempts, by outcome" }),
  };
}

/** The instruments of the current meter provider. */
export function sluiceMetrics(): SluiceInstruments {
  const provider = metrics.getMeterProvider();
  if (provider !== madeFor || !made) {
    madeFor = provider;
    made = make(provider);
  }
  return made;
}
