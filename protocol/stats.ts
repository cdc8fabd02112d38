import { z } from "zod";
import { TIERS, type EventTypeName } from "./subjects.ts";

/**
 * What an actor node tells the rest of the cluster about itself, every few seconds, on
 * core NATS (`sluice.stats.<nodeId>`; nothing durable: a missed snapshot is replaced by
 * the next). `sluice top`, the dashboard and the gateway's /v1/stats read these.
 */
/** One egress source's figures at one destination (issue 19). */
export const SourceStats = z.object({
  name: z.string(),
  address: z.string(),
  /** Messages sent from this source to this destination since the destination's actor started. */
  sent: z.number().int().nonnegative(),
  connections: z.number().int().nonnegative(),
  /** Address not on this host (or, at this destination, of the wrong family): out of its pools until it is tried again. */
  suspended: z.boolean(),
  /** Today's warm-up figures, cluster-wide; absent when the source has no ramp (or finished it). */
  warmup: z.object({ day: z.number().int().nonnegative(), cap: z.number().int().nonnegative(), used: z.number().int().nonnegative(), remaining: z.number().int().nonnegative() }).optional(),
});
export type SourceStats = z.infer<typeof SourceStats>;

export const DestinationStats = z.object({
  /** The budget's key: a domain, or an MX-provider group such as "google". */
  key: z.string(),
  state: z.string(),
  partition: z.number().int().nonnegative().optional(),
  /** Current allowed rate after adaptive throttling, and the policy's configured rate. */
  ratePerSecond: z.number(),
  configuredRatePerSecond: z.number(),
  connections: z.number().int().nonnegative(),
  maxConnections: z.number().int().nonnegative(),
  queued: z.record(z.enum(TIERS), z.number().int().nonnegative()),
  delivered: z.number().int().nonnegative(),
  deferred: z.number().int().nonnegative(),
  bounced: z.number().int().nonnegative(),
  throttleEvents: z.number().int().nonnegative(),
  /** The connection cap in force (≤ maxConnections, the policy's), and where each limit comes from. */
  connectionLimit: z.number().int().nonnegative().optional(),
  connectionLimitSource: z.enum(["policy", "learned"]).optional(),
  rateLimitSource: z.enum(["policy", "learned"]).optional(),
  /** Sends the destination refused for a limit (throttling, not failures). */
  throttleRefusals: z.number().int().nonnegative().optional(),
  /** State changes of the destination's machine since it started. */
  stateChanges: z.number().int().nonnegative().optional(),
  /** Egress sources that sent to this destination (absent without egress configuration). */
  sources: z.array(SourceStats).optional(),
});
export type DestinationStats = z.infer<typeof DestinationStats>;

export const NodeStats = z.object({
  v: z.literal(1),
  nodeId: z.string(),
  at: z.number().int(),
  startedAt: z.number().int(),
  partitions: z.array(z.number().int().nonnegative()),
  rssBytes: z.number().int().nonnegative(),
  /** Messages this node holds unacknowledged, per tier. */
  inFlight: z.record(z.enum(TIERS), z.number().int().nonnegative()),
  /** The same per tenant (tenants with none left out): each tenant's backlog on this node. */
  tenantsInFlight: z.record(z.string(), z.number().int().nonnegative()).optional(),
  destinations: z.array(DestinationStats),
});
export type NodeStats = z.infer<typeof NodeStats>;

export const statsSubject = (nodeId: string): string => `sluice.stats.${nodeId}`;
export const STATS_ALL = "sluice.stats.>";
export const STATS_INTERVAL_MS = 2000;

/**
 * What one tenant may see of the cluster's figures (GET /v1/stats with a tenant key, or an
 * operator's `?tenant=`). Node, queue and destination figures come from node-wide
 * telemetry with no tenant dimension (a destination's queue holds every tenant's mail), so
 * they are not in it; what is here is counted from the tenant's own subjects.
 */
export interface TenantStats {
  scope: "tenant";
  tenant: string;
  at: number;
  /** Dead letters of this tenant on MAIL_DLQ. */
  dlq: { messages: number };
  /** This tenant's events on MAIL_EVENTS by type, over the stream's retention (SLUICE_EVENTS_MAX_AGE). */
  events: Record<EventTypeName, number>;
}
