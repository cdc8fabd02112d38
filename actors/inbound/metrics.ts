import { metrics } from "@opentelemetry/api";

const meter = metrics.getMeter("sluice");

export const inboundMetrics = {
  received: meter.createCounter("sluice_inbound_received", { description: "inbound messages stored on MAIL_INBOUND" }),
  refused: meter.createCounter("sluice_inbound_refused", { description: "inbound SMTP refusals, by reason (recipient, rate, size)" }),
  reports: meter.createCounter("sluice_inbound_reports", { description: "parsed inbound messages, by kind, outcome and whether a signed VERP address tied them to a message" }),
};
