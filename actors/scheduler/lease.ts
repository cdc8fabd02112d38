import { randomUUID } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { isCasConflict } from "../../protocol/io/index.ts";

/**
 * A cluster-wide single leader, by the pattern of the partition locks (actors/cluster/
 * lock-table.ts): one key in a bucket whose TTL is the lease TTL; `create` to acquire
 * (fails while anyone holds it), compare-and-set on our last revision every TTL/3 to keep
 * it, delete on our revision to hand it over at once. A lease not confirmed for 60% of the
 * TTL is given up (fenced) before the server may expire it and another node take it.
 *
 * Safety of the scheduler does not rest on this: two leaders for a moment release the same
 * slices with the same msgIDs (dropped by JetStream) under compare-and-set records. The
 * lease keeps the work in one place.
 */
export interface LeaderLease {
  isLeader(): boolean;
  stop(): Promise<void>;
}

export interface LeaseOptions {
  kv: KV;
  key: string;
  nodeId: string;
  ttlMs: number;
  logger: Logger;
  onChange(leader: boolean): void;
}

const FENCE_FRACTION = 0.6;

export function startLeaderLease(o: LeaseOptions): LeaderLease {
  const instance = randomUUID();
  const value = (): string => JSON.stringify({ node: o.nodeId, instance, at: Date.now() });
  const period = Math.max(50, Math.floor(o.ttlMs / 3));
  let revision = 0;
  let okSentAt = 0;
  let leader = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const become = (now: boolean): void => {
    if (leader === now) return;
    leader = now;
    o.logger.info({ nodeId: o.nodeId, key: o.key, leader }, leader ? "leader lease acquired" : "leader lease given up");
    o.onChange(leader);
  };

  const round = async (): Promise<void> => {
    const sentAt = Date.now();
    try {
      if (leader) revision = await o.kv.update(o.key, value(), revision);
      else revision = await o.kv.create(o.key, value());
      okSentAt = sentAt;
      become(true);
    } catch (e) {
      // Someone else holds it (create refused), or took it (our revision is gone): follow.
      if (!leader || isCasConflict(e)) become(false);
      else if (Date.now() - okSentAt > o.ttlMs * FENCE_FRACTION) {
        o.logger.warn({ err: e, key: o.key }, "leader lease not renewed in time; giving it up");
        become(false);
      }
    }
  };

  const loop = async (): Promise<void> => {
    if (stopped) return;
    await round();
    if (!stopped) timer = setTimeout(() => void loop(), period);
  };
  void loop();

  return {
    isLeader: () => leader,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      if (leader) {
        become(false);
        // Hand over at once instead of after the TTL.
        await o.kv.delete(o.key, { previousSeq: revision }).catch(() => undefined); // lost meanwhile: it expires by itself
      }
    },
  };
}
