import { assign, emit, setup, type ActorRefFrom, type SnapshotFrom } from "xstate";

/**
 * The life of one destination (a domain, or an MX group). The machine owns the decisions:
 * whether the destination may send (tag `canSend`), how many sends at once its state
 * permits (`context.concurrency`: the learned cap, or 1 while probing), whether it takes
 * new work at all (tag `accepting`), whether new work must wake it (`waitsForWork`) or an
 * empty queue should be reported (`drains`), and when the circuit opens. destination.ts holds the
 * queue, the budget and the SMTP work; it sends events and reads tags, and hears about
 * transitions that need work from it through emitted events (`actor.on`).
 *
 *              ┌──────────────────────── active ─────────────────────────┐
 *   idle ─WORK─▶ sending ─THROTTLED─▶ throttled ─(quietMs, no THROTTLED)─▶ sending
 *    ▲  ◀DRAINED─┘                       (keeps sending at the learned pace)
 *    │          └─ NETWORK_FAILURE × N (consecutive, any child) ─▶ suspended ─(suspendMs)─▶ probing
 *    └─(idleMs)─▶ retired                                            ▲     NETWORK_FAILURE │ SUCCESS → sending
 *                                                                    └─────────────────────┘ THROTTLED → throttled
 *
 * Throttling (a 421 greeting, 4.7.x, "too many connections", a rate limit) is the
 * destination working and asking for less: it never counts toward the circuit breaker.
 * Only failures to reach it at all (refused, reset, timed out, TLS required but failing)
 * do.
 */
export interface DestinationContext {
  /** Consecutive network failures (reset by any answer from the destination). */
  failures: number;
  suspendAfterFailures: number;
  suspendMs: number;
  /** Time without a throttle reply after which `throttled` goes back to `sending`. */
  quietMs: number;
  idleMs: number;
  /** Sends at once this state permits, on top of the learned cap (Infinity = the cap decides). */
  concurrency: number;
}

export type DestinationEvent =
  | { type: "WORK" }
  | { type: "DRAINED" }
  | { type: "SUCCESS" }
  | { type: "THROTTLED" }
  | { type: "NETWORK_FAILURE" }
  | { type: "RECONFIGURE"; suspendAfterFailures: number; suspendMs: number };

/** What the machine tells the actor that runs it (`actor.on(type, ...)`). */
export type DestinationEmitted =
  | { type: "suspended"; forMs: number }
  | { type: "resumed" }
  | { type: "throttled" }
  | { type: "recovered" }
  | { type: "canSend" };

export type DestinationInput = Omit<DestinationContext, "failures" | "concurrency">;

export const destinationMachine = setup({
  types: {
    context: {} as DestinationContext,
    events: {} as DestinationEvent,
    input: {} as DestinationInput,
    emitted: {} as DestinationEmitted,
    tags: {} as "canSend" | "accepting" | "probe" | "waitsForWork" | "drains",
  },
  actions: {
    countFailure: assign({ failures: ({ context }) => context.failures + 1 }),
    resetFailures: assign({ failures: 0 }),
    reconfigure: assign(({ event }) => (event.type === "RECONFIGURE" ? { suspendAfterFailures: event.suspendAfterFailures, suspendMs: event.suspendMs } : {})),
    unlimited: assign({ concurrency: Infinity }),
    oneAtATime: assign({ concurrency: 1 }),
    emitSuspended: emit(({ context }) => ({ type: "suspended" as const, forMs: context.suspendMs })),
    emitResumed: emit({ type: "resumed" }),
    emitThrottled: emit({ type: "throttled" }),
    emitRecovered: emit({ type: "recovered" }),
    // The actor pumps its queue when the machine enters a state that may send.
    emitCanSend: emit({ type: "canSend" }),
  },
  guards: {
    circuitOpens: ({ context }) => context.failures + 1 >= context.suspendAfterFailures,
  },
  delays: {
    idle: ({ context }) => context.idleMs,
    suspension: ({ context }) => context.suspendMs,
    quiet: ({ context }) => context.quietMs,
  },
}).createMachine({
  id: "destination",
  context: ({ input }) => ({ ...input, failures: 0, concurrency: Infinity }),
  initial: "idle",
  on: {
    RECONFIGURE: { actions: "reconfigure" },
  },
  states: {
    idle: {
      tags: ["canSend", "accepting", "waitsForWork"],
      on: { WORK: "active" },
      after: { idle: "retired" },
    },
    active: {
      tags: ["canSend", "accepting", "drains"],
      initial: "sending",
      entry: ["unlimited", "emitCanSend"],
      on: {
        DRAINED: "idle",
        SUCCESS: { actions: "resetFailures" },
        // One place for the circuit breaker, whichever child is active.
        NETWORK_FAILURE: [{ guard: "circuitOpens", target: "suspended", actions: "countFailure" }, { actions: "countFailure" }],
      },
      states: {
        sending: {
          on: { THROTTLED: { target: "throttled" } },
        },
        // The destination answers and asked for less: keep sending at the learned pace.
        throttled: {
          entry: ["resetFailures", "emitThrottled"],
          exit: "emitRecovered",
          initial: "quiet",
          states: {
            // Each throttle reply starts the quiet period again (re-entering the child only).
            quiet: {
              on: { THROTTLED: { target: "quiet", reenter: true, actions: "resetFailures" } },
              after: { quiet: "#destination.active.sending" },
            },
          },
        },
      },
    },
    suspended: {
      entry: "emitSuspended",
      after: { suspension: "probing" },
    },
    // Half-open circuit: one message at a time tells whether the destination is back.
    probing: {
      tags: ["canSend", "accepting", "probe", "drains"],
      entry: ["oneAtATime", "emitCanSend"],
      on: {
        SUCCESS: { target: "active.sending", actions: ["resetFailures", "emitResumed"] },
        THROTTLED: { target: "active.throttled", actions: ["resetFailures", "emitResumed"] },
        NETWORK_FAILURE: { target: "suspended", actions: "countFailure" },
        DRAINED: { target: "idle", actions: ["unlimited", "emitResumed"] },
      },
    },
    retired: { type: "final" },
  },
});

export type DestinationActorRef = ActorRefFrom<typeof destinationMachine>;
export type DestinationSnapshot = SnapshotFrom<typeof destinationMachine>;

/** The state as one word (children of `active` by their own name), for stats and logs. */
export type DestinationState = "idle" | "sending" | "throttled" | "suspended" | "probing" | "retired";

export function stateName(snapshot: DestinationSnapshot): DestinationState {
  const v = snapshot.value;
  if (typeof v === "string") return v as DestinationState;
  return "active" in v && typeof v.active === "object" ? "throttled" : "sending";
}
