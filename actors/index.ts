export { startNode, type ActorNode, type NodeOptions } from "./node.ts";
export { PolicyBook, loadPolicyFile, watchPolicies, applyKvPolicies, policyKeyToKvKey, type EffectivePolicy } from "./policies/index.ts";
export { startDeadLetterer, type DeadLetterer } from "./dead-letterer.ts";
export { startWebhookActor, type WebhookActor, type WebhookActorOptions } from "./webhooks/index.ts";
export { startStatusIndexer, type StatusIndexer } from "./status-indexer.ts";
export { startInbound, INBOUND_HEADERS, type InboundRole } from "./inbound/index.ts";
