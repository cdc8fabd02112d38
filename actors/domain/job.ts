import type { JsMsg } from "@nats-io/jetstream";
import type { Classification, DeliveryMessage, SmtpReply } from "../../protocol/index.ts";

/** One recipient message held by this node, from pull to ack/nak. */
export interface Job {
  message: DeliveryMessage;
  msg: JsMsg;
  partition: number;
  domain: string;
  /** When the job entered its destination's local queue (for ack-wait keep-alive). */
  queuedAt: number;
  /** Last time `working()` extended its ack deadline. */
  touchedAt: number;
  /**
   * JetStream deliveries in all, when earlier copies of the message had some (a parked
   * message comes back as a new copy, its count carried in a header); else the copy's own.
   */
  deliveries?: number;
}

/** How many times the message has been delivered by JetStream, over all its copies. */
export const deliveriesOfJob = (job: Job): number => job.deliveries ?? job.msg.info.deliveryCount;

export type SendResult =
  | {
      kind: "delivered";
      mx: string;
      reply: SmtpReply;
      /** Sessions to this host open and working after this one (what the destination accepts at once). */
      working?: number;
    }
  | {
      kind: "failed";
      mx: string | undefined;
      classification: Classification;
      reply?: SmtpReply;
      error: string;
      /** For a throttle reply: which limit of the destination it is about. */
      limit?: "connections" | "rate";
      /** Sessions to this host open and working when this one failed (what the destination allows). */
      working?: number;
      /** A retry sooner than the schedule says (the mailbox simulator's soft bounce). */
      retryInMs?: number;
      /**
       * The egress source could not be used, nothing was sent, no fault of the destination:
       * its address is not on this host (EADDRNOTAVAIL), or is of the other family than the
       * destination's address (an IPv6 source for an IPv4 MX: bind EINVAL).
       */
      sourceUnavailable?: "not_on_host" | "wrong_family";
    };

/** Why a job goes back to JetStream without an SMTP attempt. */
export type PostponeReason = "overflow" | "suspended" | "released" | "held";
