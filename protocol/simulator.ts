/**
 * The mailbox simulator (like SES's): addresses at `simulator.invalid` that the node answers
 * itself, without any network, with the real events, statuses, webhooks and metrics.
 * `.invalid` is reserved (RFC 2606 §2): no real mailbox can be there, so nothing leaks.
 * Pure: the scenarios as data; the node's actors/simulator/ plays them.
 */
export const SIMULATOR_DOMAIN = "simulator.invalid";

export const SIMULATOR_SCENARIOS = {
  success: "delivered",
  bounce: "hard bounce at once (550 5.1.1), address suppressed, dead-lettered",
  softbounce: "deferred twice (451 4.2.0), then delivered",
  complaint: "delivered, then a `complained` event as if a feedback report arrived (address suppressed)",
  ooto: "delivered, then an `auto_replied` event (out of the office)",
  suppressed: "refused as suppressed (`suppressed` event, no attempt)",
  slow: "delivered after a delay of a few seconds",
} as const;
export type SimulatorScenario = keyof typeof SIMULATOR_SCENARIOS;

/** Deferrals a `softbounce@` recipient gets before it is delivered. */
export const SIMULATOR_SOFT_BOUNCES = 2;

/**
 * The scenario of a recipient, or undefined if it is not a simulator address. The local part
 * may carry a `+tag` (`bounce+42@simulator.invalid`), so tests and demos can send many.
 */
export function simulatorScenario(rcptTo: string): SimulatorScenario | undefined {
  const at = rcptTo.lastIndexOf("@");
  if (at < 0 || rcptTo.slice(at + 1).toLowerCase() !== SIMULATOR_DOMAIN) return undefined;
  const local = rcptTo.slice(0, at).toLowerCase();
  const plus = local.indexOf("+");
  const name = plus < 0 ? local : local.slice(0, plus);
  return Object.hasOwn(SIMULATOR_SCENARIOS, name) ? (name as SimulatorScenario) : undefined;
}

/** One line per address, for the local banner, `--help` texts and the docs. */
export const simulatorAddressLines = (): string[] =>
  Object.entries(SIMULATOR_SCENARIOS).map(([name, what]) => `${`${name}@${SIMULATOR_DOMAIN}`.padEnd(30)} ${what}`);
