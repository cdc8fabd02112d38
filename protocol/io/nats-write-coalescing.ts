import type { NatsConnection } from "@nats-io/transport-node";

/**
 * One socket write per event-loop turn instead of one per request.
 *
 * Used by the gateway and the actor node (`connectNats(..., { coalesceWrites: true })`).
 * nats.js flushes its outbound buffer on the microtask after the first command; the
 * gateway handles each HTTP request in its own I/O callback, so every request cost its own
 * `write(2)` to nats-server — the largest single item (~20%) of the gateway's CPU profile
 * under load; in the actor node each SMTP reply, ack and event publish arrives in its own
 * turn, with the same effect (a loopback write pays for the receiving side's TCP work too). Deferring the
 * flush to `setImmediate` (the check phase, right after the poll phase has read every
 * ready HTTP socket) sends all the publishes of one turn in one write. Nothing waits
 * longer than the current loop turn; a buffer past nats.js's own threshold (32 KiB) is
 * still written at once; ordering is unchanged (one buffer).
 *
 * This reaches into nats.js's ProtocolHandler (`flushPending`, `outbound`, `pendingLimit`),
 * checked against @nats-io/nats-core 3.4.0 and pinned by package-lock. If those ever
 * change, it leaves the connection as it was — and test/integration/nats-write-coalescing
 * fails, so an upgrade cannot silently lose the gain.
 */
interface ProtocolInternals {
  flushPending(): void;
  outbound?: { size(): number };
  pendingLimit?: number;
}

export function coalesceNatsWrites(nc: NatsConnection): boolean {
  const protocol = (nc as unknown as { protocol?: ProtocolInternals }).protocol;
  if (protocol === undefined || typeof protocol.flushPending !== "function" || typeof protocol.outbound?.size !== "function" || typeof protocol.pendingLimit !== "number") {
    return false;
  }
  const flushNow = protocol.flushPending.bind(protocol);
  const outbound = protocol.outbound;
  const limit = protocol.pendingLimit;
  let scheduled = false;
  const flushScheduled = (): void => {
    scheduled = false;
    flushNow();
  };
  protocol.flushPending = () => {
    if (outbound.size() >= limit) return flushNow();
    if (scheduled) return;
    scheduled = true;
    setImmediate(flushScheduled);
  };
  return true;
}
