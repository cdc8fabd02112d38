export { SourceBudgets, type ChosenSource, type EgressDeps, type SourceChoice } from "./source-budgets.ts";
export { WarmupLedger, type WarmupCheck, type WarmupFigures } from "./warmup-ledger.ts";
export { SourceHealth, SOURCE_SUSPEND_MS } from "./source-health.ts";
export { SmoothWeightedRoundRobin } from "./swrr.ts";
export { poolOf } from "./pool-of.ts";
export { egressMetrics, observeSources } from "./metrics.ts";
