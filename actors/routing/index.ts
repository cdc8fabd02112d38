export { Router, type Target, type Resolution, type RouterOptions } from "./router.ts";
export { lookupMx, systemDns, type DnsLike, type MxHost } from "./mx.ts";
