import { metrics, type Counter, type Histogram, type MeterProvider } from "@opentelemetry/api";

/**
 * Every metric Sluice records, named in one place (all `sluice_`). Instruments are made
 * from the meter provider current at the time of use: the API has no proxy meter, so an
 * instrument created before `startTelemetry` would stay a no-op forever. Recreating them
 * when the provider changes costs one comparison per call.
 */

export interface SluiceInstruments {
  /** Messages accepted into MAIL_SEND; attributes tier, domain (recipient domain), path (http | direct | batch). */
  accepted: Counter;
  /** Requests rejected by the gateway; attribute code. */
  rejected: Counter;
  /** Delivery outcomes at the node; attributes tier, domain. */
  delivered: Counter;
  deferred: Counter;
  bounced: Counter;
  /** The remote told us to slow down; attribute domain. */
  throttleEvents: Counter;
  /** SMTP transaction time in seconds; attributes domain, outcome. */
  smtpDuration: Histogram;
  /** Time from an event's creation to its webhook POST being acknowledged, in seconds. */
  webhookLag: Histogram;
  webhookDeliveries: Counter;
}

let madeFor: MeterProvider | undefined;
let made: SluiceInstruments | undefined;

function make(provider: MeterProvider): SluiceInstruments {
  const m = provider.getMeter("sluice");
  return {
    accepted: m.createCounter("sluice_messages_accepted", { description: "Messages accepted into MAIL_SEND" }),
    rejected: m.createCounter("sluice_requests_rejected", { description: "Requests rejected by the gateway, by error code" }),
    delivered: m.createCounter("sluice_messages_delivered", { description: "Messages accepted by the remote MTA" }),
    deferred: m.createCounter("sluice_messages_deferred", { description: "Temporary failures scheduled for retry" }),
    bounced: m.createCounter("sluice_messages_bounced", { description: "Permanent failures (bounces and dead letters)" }),
    throttleEvents: m.createCounter("sluice_throttle_events", { description: "Times a destination told us to slow down" }),
    smtpDuration: m.createHistogram("sluice_smtp_transaction_seconds", { description: "SMTP transaction duration", unit: "s" }),
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
