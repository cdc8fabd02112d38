import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  encode,
  KV_BUCKETS,
  maxDeliveriesOf,
  OBJECT_STORES,
  partitionOf,
  SIMULATOR_DOMAIN,
  STATS_INTERVAL_MS,
  statsSubject,
  unsubscribeKey,
  verpKey,
  type Config,
  type NodeStats,
} from "../protocol/index.ts";
import { dnsResolver } from "../protocol/io/index.ts";
import { connectNats, ensureTopology, topologyFor, topologyOptionsFrom } from "../protocol/io/index.ts";
import { Dispatcher } from "./consumers/dispatcher.ts";
import { HeldWork } from "./consumers/held-work.ts";
import { heldHeadroom, PartitionConsumers } from "./consumers/partition-consumers.ts";
import { PARK_FALLBACK_DELAY_MS, Parking } from "./consumers/parking.ts";
import { PayloadCache } from "./payload-cache.ts";
import { loadPolicyFile, PolicyBook, watchPolicies } from "./policies/index.ts";
import { Router } from "./routing/index.ts";
import { Settler } from "./settle.ts";
import { loadDkimKeys } from "./smtp/dkim.ts";
import { tenantKeysSink } from "./smtp/tenant-keys.ts";
import { watchDomainEntries } from "./domains/entries-watch.ts";
import { ReturnPathDomains } from "./domains/return-paths.ts";
import { SmtpSender } from "./smtp/sender.ts";
import { SuppressionCache } from "./suppression-cache.ts";
import { Simulator } from "./simulator/index.ts";
import { tracedSend } from "./tracing.ts";
import { startTenantServices } from "./tenants/start.ts";
import { SourceHealth, WarmupLedger } from "./egress/index.ts";

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
  /** The clock of warm-up days and sending hours (tests inject one to cross a UTC midnight). */
  warmupClock?: () => number;
}

/** Tell the cluster about this node on core NATS (nothing durable: a missed snapshot is replaced by the next). */
function publishStatsEvery(ms: number, nc: NatsConnection, nodeId: string, stats: () => NodeStats): NodeJS.Timeout {
  const timer = setInterval(() => {
    if (!nc.isClosed()) nc.publish(statsSubject(nodeId), encode(stats()));
  }, ms);
  timer.unref();
  return timer;
}

/**
 * The outbound side: the router (MX lookups through SLUICE_DNS_SERVERS), the tenants' DKIM keys
 * as they are verified, and the SMTP sender with its return path and unsubscribe links.
 */
async function startOutbound(config: Config, logger: Logger, book: PolicyBook, payloads: PayloadCache, domainsKv: KV) {
  // SLUICE_DNS_SERVERS: MX lookups and the MX hosts' addresses ask the same servers as
  // sender-domain verification (nodemailer would look the addresses up with the system's).
  const dnsServers = config.domains.dnsServers;
  const router = new Router({ routes: config.routes, book, dns: dnsResolver(dnsServers), resolveAddresses: dnsServers.length > 0 });
  const dkim = loadDkimKeys(config.dkimKeysFile, logger);
  const returnPaths = new ReturnPathDomains();
  const tenantKeys = await watchDomainEntries(domainsKv, [tenantKeysSink(dkim, config.domains.secretKey, logger), returnPaths.sink], logger);
  await tenantKeys.ready;
  const sender = new SmtpSender(
    {
      ehloName: config.ehloName,
      dkim,
      listUnsubscribe: config.listUnsubscribe,
      timeoutMs: config.smtpTimeoutMs,
      logger,
      // The reputation loop: VERP return path and signed one-click unsubscribe links.
      returnPath: config.bounceDomain !== undefined && config.secretKey !== undefined ? { key: verpKey(config.secretKey), domain: config.bounceDomain, perDomain: returnPaths } : undefined,
      unsubscribe: config.publicUrl !== undefined && config.secretKey !== undefined ? { key: unsubscribeKey(config.secretKey), publicUrl: config.publicUrl } : undefined,
    },
    payloads,
  );
  return { router, sender, tenantKeys };
}

export async function startNode(config: Config, logger: Logger, injected?: NatsConnection, options: NodeOptions = {}): Promise<ActorNode> {
  const nc = injected ?? (await connectNats(config.nats, "sluice-node", { waitOnFirstConnect: true }));
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const js = jetstream(nc);
  const kvm = new Kvm(nc);
  const [attemptsKv, suppressionsKv, domainsKv, warmupKv] = await Promise.all([kvm.open(KV_BUCKETS.attempts), kvm.open(KV_BUCKETS.suppressions), kvm.open(KV_BUCKETS.domains), kvm.open(KV_BUCKETS.warmup)]);
  const tenantServices = await startTenantServices({ js, kvm, logger, flushMs: config.tenantHealthFlushMs }); // issue 16: weights, pauses, breaker
  const payloads = new PayloadCache(await new Objm(nc).open(OBJECT_STORES.payloads));

  const book = new PolicyBook(loadPolicyFile(config.policiesFile));
  const policyWatch = await watchPolicies(nc, book, logger);
  await policyWatch.ready;
  const { router, sender, tenantKeys } = await startOutbound(config, logger, book, payloads, domainsKv);
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
  // Egress sources and pools (issue 19): warm-up counted cluster-wide, suspensions node-wide.
  const ledger = new WarmupLedger({ kv: warmupKv, now: options.warmupClock ?? Date.now, logger });
  const egress = { egress: () => book.egress, ledger, health: new SourceHealth({ now: Date.now, logger }), now: Date.now };
  // Parking (issue 17): the dispatcher is built next; the unparkers ask it how much room a destination has.
  const dispatcherRef: { d?: Dispatcher } = {};
  const parking = config.parkOverflow
    ? new Parking({
        nc,
        js,
        jsm: await jetstreamManager(nc),
        released: (job) => held.release(job),
        fallback: (job) => void settler.postponed(job, PARK_FALLBACK_DELAY_MS, "overflow").catch(() => held.release(job)),
        roomOf: (key) => dispatcherRef.d?.roomOf(key),
        headroom: () => heldHeadroom(held),
        handle: (msg, tier, partition) => dispatcherRef.d?.handle(msg, tier, partition),
        ackWaitMs: config.ackWaitMs,
        logger,
      })
    : undefined;
  const simulator = new Simulator({ js, suppressions: suppressionsKv, suppressionCache, priorAttempts: (job) => settler.priorAttempts(job), logger });
  const d = new Dispatcher({
    router,
    held,
    book,
    settler,
    ...(parking ? { parking } : {}),
    suppressions: suppressionCache,
    send: (key, job, host, policy, source) => tracedSend(key, job, host, logger, () => (key === SIMULATOR_DOMAIN ? simulator.send(job) : sender.send(key, job, host, policy, source))),
    egress,
    maxAgeMs: config.retry.maxAgeMs,
    ackWaitMs: config.ackWaitMs,
    maxDeliveries: maxDeliveriesOf(config.retry),
    logger,
  });
  dispatcherRef.d = d;

  const consumers = new PartitionConsumers({ js, partitions: config.partitions, held, work: d, closePools: (drop) => sender.closePools(drop), logger });
  const setPartitions = (wanted: number[]): Promise<void> => consumers.set(wanted);

  const startedAt = Date.now();
  const stats = (): NodeStats => ({
    v: 1,
    nodeId: config.nodeId,
    at: Date.now(),
    startedAt,
    partitions: consumers.owned(),
    rssBytes: process.memoryUsage.rss(),
    inFlight: held.byTier(),
    tenantsInFlight: held.byTenant(),
    destinations: d.destinationStats(),
  });
  const statsTimer = publishStatsEvery(STATS_INTERVAL_MS, nc, config.nodeId, stats);

  await setPartitions(options.partitions ?? Array.from({ length: config.partitions }, (_, i) => i));
  logger.info({ nodeId: config.nodeId, partitions: consumers.owned().length }, "actor node ready");

  let closing: Promise<void> | undefined;
  return {
    id: config.nodeId,
    partitions: () => consumers.owned(),
    setPartitions,
    stats,
    close: () =>
      (closing ??= (async () => {
        clearInterval(statsTimer);
        await setPartitions([]);
        await d.close();
        await egress.ledger.close();
        await simulator.close();
        policyWatch.stop();
        suppressionCache.stop();
        tenantKeys.stop();
        await tenantServices.stop();
        await sender.close();
        if (!injected) await nc.drain().catch(() => undefined); // shutting down: everything was settled above; a closed connection has nothing to drain
        logger.info({ nodeId: config.nodeId }, "actor node stopped");
      })()),
  };
}
