export { startOwnership, partitionKey, partitionOfKey, FENCE_FRACTION, type Ownership, type OwnershipEvent, type OwnershipHooks, type LockValue, parseLock } from "./ownership.ts";
export { assign, ownerOf, partitionsFor, score } from "./rendezvous.ts";
export type { NodeLease } from "./membership.ts";
export { readClusterStatus, formatPartitions, type ClusterStatus } from "./status.ts";
export { startClusterNode, type ClusterNode } from "./run.ts";
