import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  attribute,
  eventId,
  INBOUND_CONSUMER,
  KV_BUCKETS,
  parseInbound,
  parseVerp,
  requestOf,
  STREAMS,
  type Attribution,
  type MailEvent,
  type VerpKey,
} from "../../protocol/index.ts";
import { addSuppression, publishEvent, tenantOfRecipient } from "../../protocol/io/index.ts";
import { inboundMetrics } from "./metrics.ts";
import { INBOUND_HEADERS } from "./server.ts";

/**
 * The inbound consumer: parses each stored message (protocol/inbound) and acts on what it
 * reports — an event on MAIL_EVENTS (so the status index, webhooks and metrics see it like any
 * other) and, for a hard bounce or complaint about a proven address, a suppression. Any
 * number of processes may run it (one shared durable consumer); event ids are derived from
 * the stream sequence, so a redelivered message publishes nothing twice.
 */
export async function startInboundConsumer(nc: NatsConnection, key: VerpKey, logger: Logger): Promise<{ close(): Promise<void> }> {
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const suppressions = await kvm.open(KV_BUCKETS.suppressions);
  const status = await kvm.open(KV_BUCKETS.status);
  const consumer = await js.consumers.get(STREAMS.inbound, INBOUND_CONSUMER);
  const messages = await consumer.consume({ max_messages: 32 });

  const loop = (async () => {
    for await (const m of messages) {
      try {
        await handle(m, key, js, { suppressions, status }, logger);
        m.ack();
      } catch (e) {
        logger.error({ err: e, seq: m.seq }, "could not act on an inbound message; it will be retried");
        m.nak(5000);
      }
    }
  })();
  logger.info("inbound consumer parsing MAIL_INBOUND");
  return {
    close: async () => {
      await messages.close();
      await loop;
    },
  };
}

async function handle(m: JsMsg, key: VerpKey, js: ReturnType<typeof jetstream>, kv: { suppressions: KV; status: KV }, logger: Logger): Promise<void> {
  const envelopeTo = (m.headers?.get(INBOUND_HEADERS.rcptTo) ?? "").split(",").filter((a) => a !== "");
  let parsed: Awaited<ReturnType<typeof parseInbound>>;
  try {
    parsed = await parseInbound(m.data, { envelopeTo });
  } catch (e) {
    // Unparseable MIME (over the parser's nesting or header limits): it will not parse next
    // time either, so it is logged and left in the stream, not retried.
    inboundMetrics.reports.add(1, { kind: "unparseable", outcome: "none", attributed: "false" });
    logger.warn({ err: e, seq: m.seq, rcptTo: envelopeTo }, "inbound message could not be parsed; nothing done");
    return;
  }
  const a = attribute(parsed, key, await tenantsOfShortVerp(parsed.verpAddresses, kv.status));
  const outcome = a.attributed ? a.recipient.outcome : (parsed.report.recipients[0]?.outcome ?? "none");
  inboundMetrics.reports.add(1, { kind: parsed.report.kind, outcome, attributed: String(a.attributed) });
  const seen = { seq: m.seq, kind: parsed.report.kind, client: m.headers?.get(INBOUND_HEADERS.client), rcptTo: envelopeTo };
  if (!a.attributed) {
    // A report nothing signed ties to a message changes nothing: it is only logged.
    logger.info({ ...seen, why: a.why, recipients: parsed.report.recipients.length }, "inbound message not attributed to a message; nothing done");
    return;
  }
  const now = Date.now();
  if (a.suppress !== undefined && a.address !== undefined) {
    const detail = `${a.event}${a.recipient.diagnostic ? `: ${a.recipient.diagnostic}` : ""}`.slice(0, 1000);
    await addSuppression(kv.suppressions, a.tenant, { address: a.address, reason: a.suppress, detail, at: now });
  }
  await publishEvent(js, eventOf(a, m.seq, now));
  logger.info({ ...seen, tenant: a.tenant, messageId: a.recipientId, event: a.event, suppressed: a.suppress !== undefined && a.address !== undefined }, "inbound report applied");
}

/** The tenants of VERP addresses too short to name them (a long tenant name), from the status index. */
async function tenantsOfShortVerp(addresses: readonly string[], status: KV): Promise<(recipientId: string) => string | undefined> {
  const found = new Map<string, string>();
  for (const address of addresses) {
    const p = parseVerp(address);
    if (p === undefined || p.tenant !== undefined || found.has(p.recipientId)) continue;
    const tenant = await tenantOfRecipient(status, p.recipientId);
    if (tenant !== undefined) found.set(p.recipientId, tenant);
  }
  return (id) => found.get(id);
}

function eventOf(a: Attribution & { attributed: true }, seq: number, now: number): MailEvent {
  const e: MailEvent = {
    v: 1,
    // One event per stored inbound message: a redelivery of the same message is the same event.
    id: `${eventId(a.recipientId, a.event)}.in${seq}`,
    type: a.event,
    tenant: a.tenant,
    messageId: a.recipientId,
    at: now,
    async: true,
    category: a.recipient.category,
    reason: reasonOf(a),
  };
  const requestId = requestOf(a.recipientId)?.requestId;
  if (requestId !== undefined) e.requestId = requestId;
  if (a.address !== undefined) e.rcptTo = a.address;
  if (a.reply !== undefined) e.reply = a.reply;
  return e;
}

function reasonOf(a: Attribution & { attributed: true }): string {
  if (a.event === "unsubscribed") return "unsubscribe mail (List-Unsubscribe mailto)";
  if (a.recipient.outcome === "complaint") return `feedback report: ${a.recipient.category}`;
  if (a.recipient.outcome === "autoreply") return a.recipient.diagnostic ?? "auto-reply";
  return "asynchronous bounce";
}
