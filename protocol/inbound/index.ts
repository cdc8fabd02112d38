// Inbound mail (bounces, feedback reports, auto-replies) and the addresses that bring it back: pure.
export * from "./report.ts";
export * from "./verp.ts";
export * from "./unsubscribe-token.ts";
export * from "./parse.ts";
export * from "./attribute.ts";
