import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  connectNats,
  dnsResolver,
  encode,
  ensureTopology,
  KV_BUCKETS,
  OBJECT_STORES,
  partitionOf,
  STATS_INTERVAL_MS,
  statsSubject,
  TIERS,
  topologyFor,
  topologyOptionsFrom,
  type Config,
  type NodeStats,
  type TierName,
} from "../protocol/index.ts";
import { Dispatcher } from "./consumers/dispatcher.ts";
import { HeldWork } from "./consumers/held-work.ts";
import { TierConsumer } from "./consumers/tier-consumer.ts";
import { PayloadCache } from "./payload-cache.ts";
import { loadPolicyFile, PolicyBook, watchPolicies } from "./policies/index.ts";
import { Router } from "./routing/index.ts";
import { Settler } from "./settle.ts";
import { loadDkimKeys } from "./smtp/dkim.ts";
import { watchTenantKeys } from "./smtp/tenant-keys.ts";
import { SmtpSender } from "./smtp/sender.ts";
import { SuppressionCache } from "./suppression-cache.ts";
import { tracedSend } from "./tracing.ts";

export interface ActorNode {
  id: string;
  /** Partitions this node consumes now. */
  partitions(): number[];
  /**
   * Own exactly these partitions: stop pulling the ones left out, hand back what is queued
   * from them, wait until what is being sent from them is settled, then start the new ones.
   */
  setPartitions(ps: number[]): Promise<void>;
  stats(): NodeStats;
  close(): Promise<void>;
}

export interface NodeOptions {
  partitions?: number[];
}

/**
 * How many messages of a tier one node holds unacknowledged at most (queued in
 * destination actors or being sent). Bulk may hold the most; critical never waits behind it
 * because every tier has its own bound and its own consumers.
 */
/** The partition of a destination key that is a domain; -1 for anything else. */
function partitionOfDomainKey(key: string, partitions: number): number {
  try {
    return partitionOf(key, partitions);
  } catch {
    return -1;
  }
}

const HELD_PER_TIER: Record<TierName, number> = { critical: 2_000, transactional: 5_000, bulk: 10_000 };
const PULL_BATCH = 64;

export async function startNode(config: Config, logger: Logger, injected?: NatsConnection, options: NodeOptions = {}): Promise<ActorNode> {
  const nc = injected ?? (await connectNats(config.nats, "sluice-node", { waitOnFirstConnect: true }));
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const [attemptsKv, suppressionsKv, domainsKv] = await Promise.all([kvm.open(KV_BUCKETS.attempts), kvm.open(KV_BUCKETS.suppressions), kvm.open(KV_BUCKETS.domains)]);
  const payloads = new PayloadCache(await new Objm(nc).open(OBJECT_STORES.payloads));

  const book = new PolicyBook(loadPolicyFile(config.policiesFile));
  const policyWatch = await watchPolicies(nc, book, logger);
  await policyWatch.ready;
  // SLUICE_DNS_SERVERS: MX lookups and the MX hosts' addresses ask the same servers as
  // sender-domain verification (nodemailer would look the addresses up with the system's).
  const dnsServers = config.domains.dnsServers;
  const router = new Router({ routes: config.routes, book, dns: dnsResolver(dnsServers), resolveAddresses: dnsServers.length > 0 });
  const dkim = loadDkimKeys(config.dkimKeysFile, logger);
  const tenantKeys = await watchTenantKeys(domainsKv, dkim, config.domains.secretKey, logger);
  await tenantKeys.ready;
  const sender = new SmtpSender({ ehloName: config.ehloName, dkim, listUnsubscribe: config.listUnsubscribe, timeoutMs: config.smtpTimeoutMs, logger }, payloads);
  const suppressionCache = new SuppressionCache(suppressionsKv);
  await suppressionCache.start(logger);

  const held = new HeldWork();
  const settler = new Settler({
    js,
    nc,
    jsm: await jetstreamManager(nc),
    attempts: attemptsKv,
    suppressions: suppressionsKv,
    suppressionCache,
    retry: config.retry,
    logger,
    released: (job) => held.release(job),
  });
  const d = new Dispatcher({
    router,
    held,
    book,
    settler,
    suppressions: suppressionCache,
    send: (key, job, host, policy) => tracedSend(key, job, host, logger, () => sender.send(key, job, host, policy)),
    maxAgeMs: config.retry.maxAgeMs,
    ackWaitMs: config.ackWaitMs,
    logger,
  });

  const consumers = new Map<number, TierConsumer[]>();
  const admit = (tier: TierName): Promise<void> | undefined => {
    if (held.inTier(tier) < HELD_PER_TIER[tier]) return undefined;
    return (async () => {
      while (held.inTier(tier) >= HELD_PER_TIER[tier]) await held.changed();
    })();
  };

  const startPartition = async (p: number): Promise<void> => {
    const list = TIERS.map(
      (tier) => new TierConsumer({ js, tier, partition: p, batch: PULL_BATCH, admit: () => admit(tier), handle: (msg) => d.handle(msg, tier, p), logger }),
    );
    consumers.set(p, list);
    const failed = (await Promise.allSettled(list.map((c) => c.start()))).find((r) => r.status === "rejected");
    if (!failed) return;
    // Half a partition is not consumed: stop the tiers that did start and forget it, so that
    // the next call (ownership retries a failed one) starts it whole.
    const mine = consumers.get(p) === list; // else a later call already stopped it
    if (mine) consumers.delete(p);
    await Promise.all(list.map((c) => c.stop()));
    if (mine) d.release(new Set([p]));
    throw failed.reason;
  };

  // Calls may overlap: cluster ownership gives up a partition at once when it cannot renew
  // its lock (fencing), even while an earlier call still waits for a slow hand-over. So
  // stopping is immediate; a call returns only when every partition it leaves out has
  // settled (also those an earlier, still running call stopped); and what is started is
  // always what the newest call wants.
  const draining = new Set<number>();
  let wantedNow = new Set<number>();
  const setPartitions = async (wanted: number[]): Promise<void> => {
    const next = new Set(wanted.filter((p) => Number.isInteger(p) && p >= 0 && p < config.partitions));
    wantedNow = next;
    d.setOwned(next);
    const removed = [...consumers.keys()].filter((p) => !next.has(p));
    const stopping = removed.flatMap((p) => consumers.get(p) ?? []);
    for (const p of removed) {
      consumers.delete(p);
      draining.add(p);
    }
    if (removed.length > 0) {
      await Promise.all(stopping.map((c) => c.stop()));
      d.release(new Set(removed));
    }
    const settle = [...draining].filter((p) => !next.has(p));
    while (held.inPartitions(settle) > 0) await Promise.race([held.changed(), new Promise((r) => setTimeout(r, 200))]);
    for (const p of settle) draining.delete(p);
    // Connections to the handed-over domains close now, not when the pool idles out: the
    // new owner opens its own, and the destination's limit counts both.
    const gone = new Set(settle.filter((p) => !wantedNow.has(p)));
    if (gone.size > 0) sender.closePools((key) => !key.startsWith("mx:") && gone.has(partitionOfDomainKey(key, config.partitions)));
    const added = [...wantedNow].filter((p) => !consumers.has(p));
    const failed = (await Promise.allSettled(added.map((p) => startPartition(p)))).flatMap((r, i) => (r.status === "rejected" ? [{ partition: added[i], err: r.reason as unknown }] : []));
    logger.info({ partitions: [...consumers.keys()].length, added: added.length - failed.length, removed: removed.length }, "partitions updated");
    if (failed.length > 0) {
      throw new Error(`could not start consuming partition(s) ${failed.map((f) => f.partition).join(", ")}`, { cause: failed[0]?.err });
    }
  };

  const startedAt = Date.now();
  const stats = (): NodeStats => ({
    v: 1,
    nodeId: config.nodeId,
    at: Date.now(),
    startedAt,
    partitions: [...consumers.keys()].sort((a, b) => a - b),
    rssBytes: process.memoryUsage.rss(),
    inFlight: held.byTier(),
    destinations: d.destinationStats(),
  });
  const statsTimer = setInterval(() => {
    if (!nc.isClosed()) nc.publish(statsSubject(config.nodeId), encode(stats()));
  }, STATS_INTERVAL_MS);
  statsTimer.unref();

  await setPartitions(options.partitions ?? Array.from({ length: config.partitions }, (_, i) => i));
  logger.info({ nodeId: config.nodeId, partitions: consumers.size }, "actor node ready");

  let closing: Promise<void> | undefined;
  return {
    id: config.nodeId,
    partitions: () => [...consumers.keys()].sort((a, b) => a - b),
    setPartitions,
    stats,
    close: () =>
      (closing ??= (async () => {
        clearInterval(statsTimer);
        await setPartitions([]);
        await d.close();
        policyWatch.stop();
        suppressionCache.stop();
        tenantKeys.stop();
        await sender.close();
        if (!injected) await nc.drain().catch(() => undefined); // shutting down: everything was settled above; a closed connection has nothing to drain
        logger.info({ nodeId: config.nodeId }, "actor node stopped");
      })()),
  };
}
