import { assign, setup } from "xstate";

/**
 * The state of one destination (a domain, or an MX group). The machine only decides
 * *whether* the destination may send; the queue, bucket and SMTP work live in
 * destination.ts, which sends it events and reads its state.
 *
 *   idle ──WORK──▶ sending ──THROTTLED──▶ throttled ──(pause)──▶ sending
 *    │  ◀─DRAINED──┘   │                      │
 *    │                 └──NETWORK_FAILURE × N──▶ suspended ──(suspendMs)──▶ probing
 *    └─(idleMs)─▶ retired                                    ▲       │ SUCCESS → sending
 *                                                            └───────┘ NETWORK_FAILURE
 */
export interface DestinationContext {
  failures: number;
  suspendAfterFailures: number;
  suspendMs: number;
  throttlePauseMs: number;
  idleMs: number;
  hooks: { suspended(): void; resumed(): void };
}

export type DestinationEvent =
  | { type: "WORK" }
  | { type: "DRAINED" }
  | { type: "SUCCESS" }
  | { type: "THROTTLED" }
  | { type: "NETWORK_FAILURE" }
  | { type: "RECONFIGURE"; suspendAfterFailures: number; suspendMs: number };

export type DestinationInput = Omit<DestinationContext, "failures">;

export const destinationMachine = setup({
  types: {
    context: {} as DestinationContext,
    events: {} as DestinationEvent,
    input: {} as DestinationInput,
  },
  actions: {
    countFailure: assign({ failures: ({ context }) => context.failures + 1 }),
    resetFailures: assign({ failures: 0 }),
    reconfigure: assign(({ event }) =>
      event.type === "RECONFIGURE" ? { suspendAfterFailures: event.suspendAfterFailures, suspendMs: event.suspendMs } : {},
    ),
    notifySuspended: ({ context }) => context.hooks.suspended(),
    notifyResumed: ({ context }) => context.hooks.resumed(),
  },
  guards: {
    circuitOpens: ({ context }) => context.failures + 1 >= context.suspendAfterFailures,
  },
  delays: {
    idle: ({ context }) => context.idleMs,
    suspension: ({ context }) => context.suspendMs,
    throttlePause: ({ context }) => context.throttlePauseMs,
  },
}).createMachine({
  id: "destination",
  context: ({ input }) => ({ ...input, failures: 0 }),
  initial: "idle",
  on: {
    RECONFIGURE: { actions: "reconfigure" },
  },
  states: {
    idle: {
      on: { WORK: "sending" },
      after: { idle: "retired" },
    },
    sending: {
      on: {
        DRAINED: "idle",
        SUCCESS: { actions: "resetFailures" },
        THROTTLED: "throttled",
        NETWORK_FAILURE: [
          { guard: "circuitOpens", target: "suspended", actions: "countFailure" },
          { actions: "countFailure" },
        ],
      },
    },
    throttled: {
      on: {
        SUCCESS: { actions: "resetFailures" },
        NETWORK_FAILURE: [
          { guard: "circuitOpens", target: "suspended", actions: "countFailure" },
          { actions: "countFailure" },
        ],
      },
      after: { throttlePause: "sending" },
    },
    suspended: {
      entry: "notifySuspended",
      after: { suspension: "probing" },
    },
    // Half-open circuit: one message at a time tells whether the destination is back.
    probing: {
      on: {
        SUCCESS: { target: "sending", actions: ["resetFailures", "notifyResumed"] },
        THROTTLED: { target: "throttled", actions: ["resetFailures", "notifyResumed"] },
        NETWORK_FAILURE: { target: "suspended", actions: "countFailure", reenter: true },
        DRAINED: { target: "idle", actions: "notifyResumed" },
      },
    },
    retired: { type: "final" },
  },
});

export type DestinationState = "idle" | "sending" | "throttled" | "suspended" | "probing" | "retired";
