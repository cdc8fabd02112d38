export { PolicyBook, type EffectivePolicy, type PolicySource } from "./book.ts";
export { DEFAULT_POLICY, BUILTIN_GROUP_POLICIES, BUILTIN_DOMAIN_GROUPS, providerOfMx } from "./builtin.ts";
export { loadPolicyFile, parsePolicyText } from "./load.ts";
export { watchPolicies, kvKeyToPolicyKey, policyKeyToKvKey } from "./watch.ts";
export { applyKvPolicies } from "./kv-snapshot.ts";
