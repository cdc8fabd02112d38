import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import type { Config } from "../config.ts";
import { coalesceNatsWrites } from "./nats-write-coalescing.ts";

/**
 * One NATS connection per process. It reconnects forever: a NATS restart is something
 * Sluice rides out (the gateway answers 503 meanwhile), not a reason to exit.
 */
export async function connectNats(
  nats: Config["nats"],
  name: string,
  opts: { waitOnFirstConnect?: boolean; noAsyncTraces?: boolean; coalesceWrites?: boolean } = {},
): Promise<NatsConnection> {
  const nc = await connect({
    servers: nats.servers,
    name,
    token: nats.token,
    authenticator: nats.creds ? credsAuthenticator(readFileSync(nats.creds)) : undefined,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    // Hot publishers (the gateway) skip the Error nats.js builds per request for async
    // stack traces: measured at ~6% of the gateway's CPU.
    noAsyncTraces: opts.noAsyncTraces ?? false,
  });
  // Busy processes (gateway, actor node) write once per event-loop turn (see the module).
  if (opts.coalesceWrites) coalesceNatsWrites(nc);
  return nc;
}
