import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { decode, Egress, EGRESS_KV_KEY, KV_BUCKETS, POLICY_DEFAULTS_KEY, PolicyOverride } from "../../protocol/index.ts";
import { listKeys } from "../../protocol/io/index.ts";
import type { PolicyBook } from "./book.ts";
import { kvKeyToPolicyKey } from "./watch.ts";

/** Apply every current entry of `sluice_policies` once (for `sluice policies`); returns the bad keys. */
export async function applyKvPolicies(nc: NatsConnection, book: PolicyBook): Promise<string[]> {
  const kv = await new Kvm(nc).open(KV_BUCKETS.policies);
  const bad: string[] = [];
  for (const key of await listKeys(kv)) {
    const e = await kv.get(key);
    if (e === null || e.operation !== "PUT") continue;
    if (key === EGRESS_KV_KEY) {
      const egress = decode(Egress, e.value, `policy ${key}`);
      if (!egress.ok || book.setKvEgress(egress.value).length > 0) bad.push(key);
      continue;
    }
    const decoded = decode(PolicyOverride, e.value, `policy ${key}`);
    if (decoded.ok) book.setKv(kvKeyToPolicyKey(key), decoded.value, key === POLICY_DEFAULTS_KEY);
    else bad.push(key);
  }
  return bad;
}
