/**
 * bench/throttle: issue 12's "done when". A real Postfix enforcing 3 connections and
 * 5 messages/s per client (anvil: smtpd_client_connection_count_limit = 3,
 * smtpd_client_message_rate_limit = 50 per anvil_rate_time_unit = 10 s) while the Sluice
 * policy says 10 connections and 50 messages/s; 200 messages. Ideal: 200 / 5 = 40 s.
 * Reports the time to deliver all, Postfix's own count of refusals, the destination's state
 * changes and the limits it learned.
 *
 *   node --import tsx bench/throttle.bench.ts
 *
 * BENCH_MESSAGES, BENCH_CONNECTIONS, BENCH_RATE_PER_10S change the size and the limits.
 * Needs root (Postfix runs as a private instance in a temporary directory), nats-server.
 */
import { connect } from "@nats-io/transport-node";
import pino from "pino";
import { startNode } from "../actors/index.ts";
import {
  encode,
  loadConfig,
  newId,
  partitionOf,
  recipientId,
  subjects,
  type DeliveryMessageInput,
} from "../protocol/index.ts";
import { ensureTopology, topologyFor, topologyOptionsFrom } from "../protocol/io/index.ts";
import { jetstream } from "@nats-io/jetstream";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { startPostfix } from "../test/harness/postfix.ts";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const N = Number(process.env.BENCH_MESSAGES ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 3);
const PER_10S = Number(process.env.BENCH_RATE_PER_10S ?? 50);
const DOMAIN = "throttle.bench";

const dir = mkdtempSync(join(tmpdir(), "sluice-bench-throttle-"));
const policyPath = join(dir, "policies.json");
writeFileSync(policyPath, JSON.stringify({ domains: { [DOMAIN]: { maxConnections: 10, messagesPerSecond: 50, burst: 10, maxMessagesPerConnection: 100 } } }));

const nats = await startNatsServer("sluice-bench-throttle");
const postfix = await startPostfix({ domains: [DOMAIN], limits: { connections: CONNECTIONS, messages: PER_10S, rateUnitSeconds: 10 } });
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "warn" });
try {
  const config = loadConfig({}, { NATS_URL: nats.url, SLUICE_PARTITIONS: "4", SLUICE_POLICIES: policyPath, SLUICE_ROUTES: `*=127.0.0.1:${postfix.port}`, SLUICE_LOG_LEVEL: "warn", SLUICE_NODE_ID: "bench-throttle" });
  const nc = await connect({ servers: nats.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const node = await startNode(config, logger, nc);
  const js = jetstream(nc);
  const requestId = newId();
  const list: DeliveryMessageInput[] = Array.from({ length: N }, (_, i) => ({
    v: 1,
    id: recipientId(requestId, i),
    requestId,
    tenant: "bench",
    tier: "bulk",
    mailFrom: "bounces@sender.test",
    rcptTo: `u${i}@${DOMAIN}`,
    payload: { inline: { from: { address: "news@sender.test" }, subject: "Throttle bench", text: "Hello." } },
    createdAt: Date.now(),
  }));
  const states: string[] = [];
  let last = "";
  const sampler = setInterval(() => {
    const d = node.stats().destinations.find((x) => x.key === DOMAIN);
    if (d && last !== d.state) {
      last = d.state;
      states.push(`${d.state}@${((Date.now() - start) / 1000).toFixed(1)}s`);
    }
  }, 20);
  const start = Date.now();
  await Promise.all(list.map((m) => js.publish(subjects.send(m.tier, partitionOf(DOMAIN, config.partitions)), encode(m), { msgID: m.id })));
  while (postfix.counts().recipients.size < N) {
    if (Date.now() - start > 600_000) throw new Error(`only ${postfix.counts().recipients.size} of ${N} delivered in 10 minutes`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (Date.now() - start) / 1000;
  clearInterval(sampler);
  const d = node.stats().destinations.find((x) => x.key === DOMAIN);
  const c = postfix.counts();
  const ideal = N / (PER_10S / 10);
  console.log(`Postfix: ${CONNECTIONS} connections, ${PER_10S} messages / 10 s; policy 10 connections, 50 messages/s; ${N} messages`);
  console.log(`delivered ${c.recipients.size} in ${seconds.toFixed(1)} s (ideal ${ideal.toFixed(0)} s: ${((ideal / seconds) * 100).toFixed(0)}% of the allowed rate)`);
  console.log(`refusals (Postfix log): ${c.connectionRefusals} sessions at the greeting, ${c.rateRefusals} messages for rate (${(((c.connectionRefusals + c.rateRefusals) / N) * 100).toFixed(1)}% of messages)`);
  console.log(`learned: ${d?.connectionLimit} connections (${d?.connectionLimitSource}), ${d?.ratePerSecond}/s (${d?.rateLimitSource}); state changes ${d?.stateChanges}: ${states.join(" → ")}`);
  await node.close();
  await nc.close();
} finally {
  await postfix.stop();
  await nats.dispose();
  rmSync(dir, { recursive: true, force: true });
}
