import { z } from "zod";
import { egressProblems, EgressFields } from "./egress.ts";

/**
 * A destination's traffic policy (KumoMTA-style shaping as plain data). Every field is
 * optional in a file or KV entry: an override names only what it changes, and the rest
 * comes from the layer below (built-ins, then `defaults`).
 */
export const Policy = z
  .object({
    /** Sustained rate of the token bucket. */
    messagesPerSecond: z.number().positive().max(100_000),
    /** Bucket size: how many may go at once after a quiet spell. */
    burst: z.number().int().min(1).max(100_000),
    messagesPerMinute: z.number().int().positive().optional(),
    messagesPerHour: z.number().int().positive().optional(),
    /** Concurrent SMTP connections to the destination, cluster-wide (one owner per partition). */
    maxConnections: z.number().int().min(1).max(1000),
    maxMessagesPerConnection: z.number().int().min(1).max(100_000),
    /** Refuse to send without STARTTLS (otherwise TLS is opportunistic). */
    requireTLS: z.boolean(),
    /** Consecutive connection failures that open the circuit (state suspended). */
    suspendAfterFailures: z.number().int().min(1).max(1000),
    /** How long a suspended destination waits before trying one message again. */
    suspendSeconds: z.number().positive().max(86_400),
  })
  .strict();
export type Policy = z.infer<typeof Policy>;

export const PolicyOverride = Policy.partial().strict();
export type PolicyOverride = z.infer<typeof PolicyOverride>;

/** The `SLUICE_POLICIES` file (JSON or YAML), and the shape of what `sluice policies` prints. */
export const PolicyFile = z
  .object({
    defaults: PolicyOverride.optional(),
    /** Keys are domains or MX groups (`mx:google`); an explicit domain leaves its MX group. */
    domains: z.record(z.string().min(1).max(253), PolicyOverride).optional(),
    /** Domains whose MX hosts belong to one provider share one budget (default true). */
    groupByMx: z.boolean().optional(),
    // Egress sources and pools (issue 19): see ./egress.ts.
    ...EgressFields,
  })
  .strict()
  .superRefine((file, ctx) => {
    // "pools.shared: no source named …" → field pools.shared, message "no source named …".
    for (const problem of egressProblems(file)) {
      const [field = "pools", message = problem] = problem.split(": ", 2);
      ctx.addIssue({ code: "custom", message, path: field.split(".") });
    }
  });
export type PolicyFile = z.infer<typeof PolicyFile>;

/** KV key of the defaults entry in `sluice_policies`; every other key is a domain or an MX group. */
export const POLICY_DEFAULTS_KEY = "_defaults";
