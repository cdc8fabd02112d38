import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { destinationOfToken, destinationToken, PARKED_TIER_HEADER, STREAMS, TIERS, type TierName } from "../../protocol/index.ts";
import { AckedPublisher, parkedConsumer, parkedCopy, parkedDestinations } from "../../protocol/io/index.ts";
import { deliveriesOfJob, type Job } from "../domain/job.ts";
import { deliveryMetrics } from "../metrics.ts";

export interface ParkingDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The job is no longer held by this node (its MAIL_SEND copy was acked). */
  released(job: Job): void;
  /** Parking failed (NATS away): hand the job back the old way, with a short nak(delay). */
  fallback(job: Job): void;
  /** Free places in the destination's queue and its size; undefined if it has no actor here. */
  roomOf(destinationKey: string): { free: number; capacity: number } | undefined;
  /** How many more messages the node may hold now (its per-tier bounds). */
  headroom(): number;
  /** A parked message taken back: to the dispatcher, as if pulled from MAIL_SEND; resolves once it is queued or settled. */
  handle(msg: JsMsg, tier: TierName, partition: number): Promise<void> | undefined;
  /** SLUICE_ACK_WAIT: a taken-back message waits in its destination's queue like any other. */
  ackWaitMs: number;
  logger: Logger;
  /** How often drained destinations take parked mail back (tests shorten it). */
  tickMs?: number;
  /** How often the stream is searched for parked mail this node should drain. */
  rescanMs?: number;
}

/** Taken back at once for a destination this node has no actor for yet (after a restart or hand-over). */
const ROOM_OF_UNKNOWN = 32;
const PUBLISH_TIMEOUT_MS = 10_000;
const FETCH_EXPIRES_MS = 1000;
/** After a fetch that found nothing ready (only retries waiting on their delay), the next one waits this long. */
const IDLE_BACKOFF_MS = 10_000;
/** A park that failed goes back with this delay: short, so that its retry lands inside the de-duplication window. */
export const PARK_FALLBACK_DELAY_MS = 2000;

interface Unparker {
  partition: number;
  token: string;
  key: string;
  consumer: Promise<Consumer> | undefined;
  busy: boolean;
  idleUntil: number;
  /** Taken back, not yet in the destination's queue (being checked and routed): not room any more. */
  routing: number;
}

/**
 * Parking (issue 17): a destination's overflow leaves MAIL_SEND for MAIL_PARKED (one
 * publish and one ack per message, once), instead of a nak(delay) that keeps it pending on
 * the shared (tier, partition) consumer and brings it back on every pass. Per (partition,
 * destination) with parked mail, an unparker pulls from its own consumer (filtered to that
 * subject) only as much as the destination's queue has room for, checked every tick, and
 * hands each message to the dispatcher as if it came from MAIL_SEND: it is checked (max age,
 * expiry, suppression), sent, and settled — acked, or naked with its retry delay — on
 * MAIL_PARKED. Its earlier deliveries count (a header carries them).
 */
export class Parking {
  readonly #d: ParkingDeps;
  readonly #publisher: AckedPublisher;
  readonly #unparkers = new Map<string, Unparker>();
  #owned = new Set<number>();
  #batch: { job: Job; key: string }[] = [];
  #tick: NodeJS.Timeout;
  #rescan: NodeJS.Timeout;
  #closed = false;

  constructor(deps: ParkingDeps) {
    this.#d = deps;
    this.#publisher = new AckedPublisher(deps.nc);
    this.#tick = setInterval(() => this.#drainAll(), deps.tickMs ?? 500);
    this.#tick.unref();
    this.#rescan = setInterval(() => void this.rescan(), deps.rescanMs ?? 30_000);
    this.#rescan.unref();
  }

  /** Park a job the destination `key` cannot start soon. Parks of one event-loop turn go out as one group. */
  park(job: Job, key: string): void {
    this.#batch.push({ job, key });
    if (this.#batch.length === 1) setImmediate(() => this.#flushParks());
  }

  #flushParks(): void {
    const batch = this.#batch.map(({ job, key }) => ({ job, token: destinationToken(key) }));
    this.#batch = [];
    const copies = batch.map(({ job, token }) => parkedCopy(job.msg, job.partition, token, job.message.tier, deliveriesOfJob(job)));
    this.#publisher.publish(copies, PUBLISH_TIMEOUT_MS).then(
      () => {
        for (const { job, token } of batch) {
          job.msg.ack();
          this.#d.released(job);
          this.#unparker(job.partition, token);
        }
        deliveryMetrics.postponed.add(batch.length, { reason: "parked" });
      },
      (e: unknown) => {
        this.#d.logger.warn({ err: e, messages: batch.length }, "could not park overflow; handing it back to JetStream instead");
        for (const { job } of batch) this.#d.fallback(job);
      },
    );
  }

  /** The partitions this node owns: unparkers of others stop, parked mail of new ones is searched for. */
  setOwned(partitions: Iterable<number>): void {
    const next = new Set(partitions);
    const added = [...next].some((p) => !this.#owned.has(p));
    this.#owned = next;
    for (const [id, u] of this.#unparkers) if (!next.has(u.partition)) this.#unparkers.delete(id);
    if (added) void this.rescan();
  }

  /** Find parked mail of owned partitions and make sure something drains it. */
  async rescan(): Promise<void> {
    if (this.#closed || this.#owned.size === 0) return;
    try {
      const found = await parkedDestinations(this.#d.jsm);
      for (const [partition, tokens] of found) {
        if (!this.#owned.has(partition)) continue;
        for (const token of tokens.keys()) this.#unparker(partition, token);
      }
    } catch (e) {
      this.#d.logger.warn({ err: e }, "could not list parked mail; trying again later");
    }
  }

  /** Destinations with an unparker (parked mail, or lately had). */
  unparking(): number {
    return this.#unparkers.size;
  }

  #unparker(partition: number, token: string): void {
    if (!this.#owned.has(partition) || this.#closed) return;
    const id = `${partition} ${token}`;
    const u = this.#unparkers.get(id);
    if (u !== undefined) {
      u.idleUntil = 0; // fresh mail parked: worth a look at once
      return;
    }
    this.#unparkers.set(id, { partition, token, key: destinationOfToken(token), consumer: undefined, busy: false, idleUntil: 0, routing: 0 });
  }

  #drainAll(): void {
    const now = Date.now();
    let headroom = this.#d.headroom();
    for (const [id, u] of this.#unparkers) {
      if (u.busy || now < u.idleUntil) continue;
      const room = this.#d.roomOf(u.key) ?? { free: ROOM_OF_UNKNOWN, capacity: ROOM_OF_UNKNOWN };
      const own = room.free - u.routing;
      // Low-water mark: take back only once half a queue's worth fits, so a 1 msg/s destination
      // costs one fetch per several seconds, not one per tick.
      if (own < Math.max(1, Math.floor(room.capacity / 2)) || headroom < 1) continue;
      const free = Math.min(own, headroom);
      headroom -= free;
      u.busy = true;
      this.#unpark(u, free)
        .then((emptied) => {
          if (emptied && this.#unparkers.get(id) === u) this.#unparkers.delete(id);
        })
        .catch((e: unknown) => {
          u.consumer = undefined; // made again next time
          this.#d.logger.warn({ err: e, destination: u.key, partition: u.partition }, "could not take parked mail back; trying again");
        })
        .finally(() => {
          u.busy = false;
        });
    }
  }

  /** Hand up to `room` parked messages to the dispatcher; true when nothing is parked any more (the consumer is removed). */
  async #unpark(u: Unparker, room: number): Promise<boolean> {
    u.consumer ??= parkedConsumer(this.#d.js, this.#d.jsm, u.partition, u.token, this.#d.ackWaitMs);
    const consumer = await u.consumer;
    let taken = 0;
    for await (const m of await consumer.fetch({ max_messages: room, expires: FETCH_EXPIRES_MS })) {
      taken++;
      u.routing++;
      const routed = this.#d.handle(m, parkedTier(m), u.partition);
      if (routed) void routed.finally(() => u.routing--);
      else u.routing--;
      if (taken >= room) break;
    }
    if (taken >= room) return false;
    const info = await consumer.info();
    if (info.num_pending > 0 || info.num_ack_pending > 0) {
      // What is left waits on nak(delay) (a retry) or is being sent: look again later.
      if (taken === 0) u.idleUntil = Date.now() + IDLE_BACKOFF_MS;
      return false;
    }
    await this.#d.jsm.consumers.delete(STREAMS.parked, info.name).catch(() => undefined); // gone already, or mail parked meanwhile: the rescan finds it
    return true;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#tick);
    clearInterval(this.#rescan);
    this.#unparkers.clear();
    this.#publisher.close();
  }
}

/** The tier a parked message was parked from (its header), bulk if absent. */
function parkedTier(m: JsMsg): TierName {
  const t = m.headers?.get(PARKED_TIER_HEADER);
  return TIERS.includes(t as TierName) ? (t as TierName) : "bulk";
}
