export { startNode, type ActorNode, type NodeOptions } from "./node.ts";
export { PolicyBook, loadPolicyFile, watchPolicies, policyKeyToKvKey, type EffectivePolicy } from "./policies/index.ts";
