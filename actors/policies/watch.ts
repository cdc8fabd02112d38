import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { decode, Egress, EGRESS_KV_KEY, KV_BUCKETS, POLICY_DEFAULTS_KEY, PolicyOverride } from "../../protocol/index.ts";
import type { PolicyBook } from "./book.ts";

/**
 * Live policies: every entry of `sluice_policies` (key = domain, MX group such as
 * `mx:google` written as `mx_google`, or `_defaults`) is applied to the book as it changes,
 * so `nats kv put sluice_policies example.com '{"messagesPerSecond":10}'` takes effect
 * without a restart. A bad entry is logged and ignored; the previous value stays.
 */
export async function watchPolicies(nc: NatsConnection, book: PolicyBook, logger: Logger): Promise<{ stop(): void; ready: Promise<void> }> {
  const kv = await new Kvm(nc).open(KV_BUCKETS.policies);
  const iter = await kv.watch();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (markReady = r));
  // The watcher first replays current values; an empty bucket sends nothing, so also settle on a timer.
  const fallback = setTimeout(() => markReady(), 500);
  void (async () => {
    for await (const e of iter) {
      if (e.key === EGRESS_KV_KEY) applyEgress(book, e.operation === "PUT" ? e.value : undefined, logger);
      else applyPolicy(book, e.key, e.operation === "PUT" ? e.value : undefined, logger);
      if (e.delta === 0) markReady();
    }
  })().catch((err: unknown) => logger.warn({ err }, "policy watch ended"));
  return {
    ready: ready.finally(() => clearTimeout(fallback)),
    stop: () => {
      clearTimeout(fallback);
      iter.stop();
    },
  };
}

function applyPolicy(book: PolicyBook, kvKey: string, value: Uint8Array | undefined, logger: Pick<Logger, "warn">): void {
  const key = kvKeyToPolicyKey(kvKey);
  const isDefaults = kvKey === POLICY_DEFAULTS_KEY;
  if (value === undefined) return book.setKv(key, undefined, isDefaults);
  const decoded = decode(PolicyOverride, value, `policy ${kvKey}`);
  if (decoded.ok) book.setKv(key, decoded.value, isDefaults);
  else logger.warn({ key: kvKey, error: decoded.error.message }, "ignored an invalid policy in KV");
}

/** The `_egress` entry (sources, pools, their mapping): a bad one is logged and the previous stays. */
export function applyEgress(book: PolicyBook, value: Uint8Array | undefined, logger: Pick<Logger, "warn">): void {
  if (value === undefined) {
    book.setKvEgress(undefined);
    return;
  }
  const decoded = decode(Egress, value, `policy ${EGRESS_KV_KEY}`);
  const problems = decoded.ok ? book.setKvEgress(decoded.value) : [decoded.error.message];
  if (problems.length > 0) logger.warn({ key: EGRESS_KV_KEY, problems }, "ignored an invalid egress entry in KV; the previous sources and pools stay");
}

/** KV keys may not contain ":"; MX groups are stored as `mx_google`. */
export const kvKeyToPolicyKey = (k: string): string => (k.startsWith("mx_") ? `mx:${k.slice(3)}` : k);
export const policyKeyToKvKey = (k: string): string => (k.startsWith("mx:") ? `mx_${k.slice(3)}` : k);
