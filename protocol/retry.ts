/**
 * The retry schedule as pure arithmetic. JetStream does the waiting (nak with this delay);
 * these functions only say how long, and how many deliveries the consumer must allow.
 */
export interface RetryPolicy {
  scheduleMs: readonly number[];
  maxAgeMs: number;
  /** ± fraction of each delay, so a burst of failures does not retry in lock-step. */
  jitter: number;
}

/** Delay before attempt `failures + 1`; the last step repeats. `random` ∈ [0,1). */
export function retryDelay(policy: RetryPolicy, failures: number, random: number = Math.random()): number {
  const steps = policy.scheduleMs;
  const base = steps[Math.min(Math.max(failures - 1, 0), steps.length - 1)] ?? 60_000;
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random));
}

/** How many attempts fit in the max age when every delay is as short as jitter allows. */
export function maxAttempts(policy: RetryPolicy): number {
  let elapsed = 0;
  let attempts = 1;
  while (attempts < 10_000) {
    const shortest = retryDelay(policy, attempts, 0);
    if (shortest <= 0 || elapsed + shortest > policy.maxAgeMs) break;
    elapsed += shortest;
    attempts++;
  }
  return attempts;
}

/** MAIL_SEND's max_deliver: the attempts that fit the schedule, plus slack for redeliveries after crashes. */
export function maxDeliveriesOf(policy: RetryPolicy): number {
  return maxAttempts(policy) + 10;
}
