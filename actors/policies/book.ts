import { egressProblems, mergeEgress, Policy, type Egress, type PolicyFile, type PolicyOverride } from "../../protocol/index.ts";
import { BUILTIN_DOMAIN_GROUPS, BUILTIN_GROUP_POLICIES, DEFAULT_POLICY } from "./builtin.ts";

export type PolicySource = "default" | "builtin" | "file" | "kv";

export interface EffectivePolicy {
  key: string;
  policy: Policy;
  /** The highest layer that set something for this key. */
  source: PolicySource;
}

/**
 * The layered policy table: built-in defaults < file defaults < KV defaults, and for a key
 * (a domain or an MX group): built-in < file < KV. Live: KV entries arrive through
 * `setKv` and listeners re-read what they use.
 */
export class PolicyBook {
  #file: PolicyFile;
  #kvDefaults: PolicyOverride | undefined;
  #kv = new Map<string, PolicyOverride>();
  #listeners = new Set<() => void>();
  #cache = new Map<string, EffectivePolicy>();
  #egress: Egress;

  constructor(file: PolicyFile = {}) {
    this.#file = file;
    this.#egress = { sources: file.sources, pools: file.pools, tenantPools: file.tenantPools, tierPools: file.tierPools, defaultPool: file.defaultPool };
  }

  /** Egress sources, pools and their mapping in force: the file's, with the live KV entry merged over it. */
  get egress(): Egress {
    return this.#egress;
  }

  /**
   * Apply (or with undefined remove) the live egress entry. Returns the problems that kept
   * it out (a pool naming an unknown source...): the previous egress then stays in force.
   */
  setKvEgress(kv: Egress | undefined): string[] {
    const f = this.#file;
    const merged = mergeEgress({ sources: f.sources, pools: f.pools, tenantPools: f.tenantPools, tierPools: f.tierPools, defaultPool: f.defaultPool }, kv);
    const problems = egressProblems(merged);
    if (problems.length > 0) return problems;
    this.#egress = merged;
    for (const l of this.#listeners) l();
    return [];
  }

  get groupByMx(): boolean {
    return this.#file.groupByMx ?? true;
  }

  /** Apply (or with undefined remove) a live override from the `sluice_policies` bucket. */
  setKv(key: string, override: PolicyOverride | undefined, isDefaults = false): void {
    if (isDefaults) this.#kvDefaults = override;
    else if (override === undefined) this.#kv.delete(key);
    else this.#kv.set(key, override);
    this.#cache.clear();
    for (const l of this.#listeners) l();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** True when an operator named this domain itself: it then keeps its own budget. */
  isExplicit(domain: string): boolean {
    return this.#kv.has(domain) || this.#file.domains?.[domain] !== undefined;
  }

  /** The group a consumer-mailbox domain belongs to before any MX lookup. */
  builtinGroupOf(domain: string): string | undefined {
    return BUILTIN_DOMAIN_GROUPS[domain];
  }

  resolve(key: string): EffectivePolicy {
    const cached = this.#cache.get(key);
    if (cached) return cached;
    let source: PolicySource = "default";
    const layers: (PolicyOverride | undefined)[] = [this.#file.defaults, this.#kvDefaults];
    const builtin = BUILTIN_GROUP_POLICIES[key] ?? BUILTIN_GROUP_POLICIES[BUILTIN_DOMAIN_GROUPS[key] ?? ""];
    if (builtin) {
      layers.push(builtin);
      source = "builtin";
    }
    const fromFile = this.#file.domains?.[key];
    if (fromFile) {
      layers.push(fromFile);
      source = "file";
    }
    const fromKv = this.#kv.get(key);
    if (fromKv) {
      layers.push(fromKv);
      source = "kv";
    }
    const merged = Object.assign({}, DEFAULT_POLICY, ...layers.filter((l) => l !== undefined)) as unknown;
    // A bad combination of layers (each valid alone) falls back to the defaults, loudly visible in `sluice policies`.
    const parsed = Policy.safeParse(merged);
    const effective: EffectivePolicy = { key, policy: parsed.success ? parsed.data : { ...DEFAULT_POLICY }, source };
    this.#cache.set(key, effective);
    return effective;
  }

  /** Every key anyone configured (plus "*" for the defaults), for `sluice policies`. */
  table(): EffectivePolicy[] {
    const keys = new Set<string>([
      ...Object.keys(BUILTIN_GROUP_POLICIES),
      ...Object.keys(BUILTIN_DOMAIN_GROUPS),
      ...Object.keys(this.#file.domains ?? {}),
      ...this.#kv.keys(),
    ]);
    const defaults: EffectivePolicy = {
      key: "*",
      policy: this.resolve("\u0000defaults").policy,
      source: this.#kvDefaults ? "kv" : this.#file.defaults ? "file" : "default",
    };
    return [defaults, ...[...keys].sort().map((k) => this.resolve(k))];
  }
}
