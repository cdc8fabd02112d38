import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { destinationOfToken, destinationToken } from "../../protocol/index.ts";
import { AckedPublisher, parkedConsumer, parkedCopy, parkedDestinations, unparkedCopy } from "../../protocol/io/index.ts";
import type { Job } from "../domain/job.ts";
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
  logger: Logger;
  /** How often drained destinations take parked mail back (tests shorten it). */
  tickMs?: number;
  /** How often the stream is searched for parked mail this node should drain. */
  rescanMs?: number;
}

/** Taken back at once for a destination this node has no actor for yet (after a restart or hand-over). */
const ROOM_OF_UNKNOWN = 32;
/** Mail put back but not seen again this long is no longer counted as coming (routed elsewhere, another owner). */
const IN_TRANSIT_FORGET_MS = 20_000;
const PUBLISH_TIMEOUT_MS = 10_000;
const FETCH_EXPIRES_MS = 1000;
/** A park that failed goes back with this delay: short, so that its retry lands inside the de-duplication window. */
export const PARK_FALLBACK_DELAY_MS = 2000;

interface Unparker {
  partition: number;
  token: string;
  key: string;
  consumer: Promise<Consumer> | undefined;
  busy: boolean;
  inTransit: number;
  lastArrival: number;
}

/**
 * Parking (issue 17): a destination's overflow leaves MAIL_SEND for MAIL_PARKED (one
 * publish and one ack per message, once), instead of a nak(delay) that keeps it pending on
 * the shared (tier, partition) consumer and brings it back on every pass. Per (partition,
 * destination) with parked mail, an unparker puts messages back onto MAIL_SEND only as fast
 * as the destination's queue drains (checked every tick), so the node pulls a slow
 * destination's mail about once more, when it can be started. Everything a message is
 * checked for (max age, expiry, suppression, retries) happens when it comes back, on
 * the normal path; its delivery count carries over in a header.
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
    const batch = this.#batch;
    this.#batch = [];
    const copies = batch.map(({ job, key }) => parkedCopy(job.msg, job.partition, destinationToken(key), job.message.tier));
    this.#publisher.publish(copies, PUBLISH_TIMEOUT_MS).then(
      () => {
        for (const { job, key } of batch) {
          job.msg.ack();
          this.#d.released(job);
          this.#unparker(job.partition, destinationToken(key));
        }
        deliveryMetrics.postponed.add(batch.length, { reason: "parked" });
      },
      (e: unknown) => {
        this.#d.logger.warn({ err: e, messages: batch.length }, "could not park overflow; handing it back to MAIL_SEND instead");
        for (const { job } of batch) this.#d.fallback(job);
      },
    );
  }

  /** A message put back by an unparker reached this node's dispatcher. */
  arrived(partition: number, token: string): void {
    const u = this.#unparkers.get(`${partition} ${token}`);
    if (u === undefined || u.inTransit === 0) return;
    u.inTransit--;
    u.lastArrival = Date.now();
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
    if (this.#unparkers.has(id)) return;
    this.#unparkers.set(id, { partition, token, key: destinationOfToken(token), consumer: undefined, busy: false, inTransit: 0, lastArrival: Date.now() });
  }

  #drainAll(): void {
    const now = Date.now();
    for (const [id, u] of this.#unparkers) {
      if (u.busy) continue;
      if (u.inTransit > 0 && now - u.lastArrival > IN_TRANSIT_FORGET_MS) u.inTransit = 0;
      const { free, capacity } = this.#d.roomOf(u.key) ?? { free: ROOM_OF_UNKNOWN, capacity: ROOM_OF_UNKNOWN };
      const room = free - u.inTransit;
      // Low-water mark: take back only once half a queue's worth fits, so a 1 msg/s destination
      // costs one fetch per several seconds, not one per tick.
      if (room < Math.max(1, Math.floor(capacity / 2))) continue;
      u.busy = true;
      this.#unpark(u, room)
        .then((emptied) => {
          if (emptied && this.#unparkers.get(id) === u) this.#unparkers.delete(id);
        })
        .catch((e: unknown) => {
          u.consumer = undefined; // e.g. removed for inactivity while the destination was suspended: made again next time
          this.#d.logger.warn({ err: e, destination: u.key, partition: u.partition }, "could not take parked mail back; trying again");
        })
        .finally(() => {
          u.busy = false;
        });
    }
  }

  /** Put up to `room` parked messages back onto MAIL_SEND; true when nothing is left parked. */
  async #unpark(u: Unparker, room: number): Promise<boolean> {
    u.consumer ??= parkedConsumer(this.#d.js, this.#d.jsm, u.partition, u.token);
    let consumer: Consumer;
    try {
      consumer = await u.consumer;
    } catch (e) {
      u.consumer = undefined;
      throw e;
    }
    const msgs: JsMsg[] = [];
    for await (const m of await consumer.fetch({ max_messages: room, expires: FETCH_EXPIRES_MS })) {
      msgs.push(m);
      if (msgs.length >= room) break;
    }
    if (msgs.length > 0) {
      await this.#putBack(msgs);
      u.inTransit += msgs.length;
      u.lastArrival = Date.now();
    }
    if (msgs.length >= room) return false;
    const info = await consumer.info();
    return info.num_pending === 0 && info.num_ack_pending === 0;
  }

  async #putBack(msgs: JsMsg[]): Promise<void> {
    const copies = msgs.map((m) => unparkedCopy(m));
    await this.#publisher.publish(
      copies.filter((c) => c !== undefined),
      PUBLISH_TIMEOUT_MS,
    );
    for (const [i, m] of msgs.entries()) {
      if (copies[i] !== undefined) m.ack();
      else {
        // Not written by a node (no tier header): kept where an operator can see it.
        this.#d.logger.error({ subject: m.subject, seq: m.seq }, "parked message without a tier header; left parked");
        m.nak(3_600_000);
      }
    }
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#tick);
    clearInterval(this.#rescan);
    this.#unparkers.clear();
    this.#publisher.close();
  }
}
