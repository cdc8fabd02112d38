import type { Logger } from "pino";
import { egressMetrics } from "./metrics.ts";

/** How long a source whose address is not on this host stays out before it is tried again. */
export const SOURCE_SUSPEND_MS = 5 * 60_000;

/**
 * Node-wide health of egress sources. A source whose address this host does not have
 * (EADDRNOTAVAIL on bind) is suspended for every destination: it is the configuration's
 * fault, not the destination's, so it neither counts toward a destination's circuit
 * breaker nor costs the message an attempt; its share goes to its pool siblings.
 */
export class SourceHealth {
  #suspendedUntil = new Map<string, number>();

  constructor(private readonly d: { now(): number; logger: Logger }) {}

  suspendedUntil(source: string): number {
    return this.#suspendedUntil.get(source) ?? 0;
  }

  suspend(source: string, address: string, error: string): void {
    const now = this.d.now();
    if (this.suspendedUntil(source) > now) return;
    this.#suspendedUntil.set(source, now + SOURCE_SUSPEND_MS);
    egressMetrics().suspended.add(1, { source });
    this.d.logger.error({ source, address, error, seconds: SOURCE_SUSPEND_MS / 1000 }, "egress source suspended: its address is not on this host; its mail goes to the other sources of its pool");
  }
}
