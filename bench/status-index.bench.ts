// Status index cost: events/s one indexer process writes, and bytes per entry on the server.
// Publishes N delivered events (one per recipient, as at steady state) and times the indexer.
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import {
  eventId,
  KV_BUCKETS,
  loadConfig,
  newId,
  recipientId,
  type MailEvent,
} from "../protocol/index.ts";
import { ensureTopology, publishEvent, topologyFor, topologyOptionsFrom } from "../protocol/io/index.ts";
import { startStatusIndexer } from "../actors/status-indexer.ts";
import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { startNatsServer } from "../test/harness/nats-server.ts";

const N = Number(process.env.N ?? 20_000);
const server = await startNatsServer("bench-status");
const nc = await connect({ servers: server.url });
const pid = execFileSync("pgrep", ["-f", `nats-server -c ${dirname(server.storeDir)}`]).toString().trim().split("\n")[0] ?? "";
const rssKb = () => Number(execFileSync("ps", ["-o", "rss=", "-p", pid]).toString().trim());
try {
  const config = loadConfig({ SLUICE_PARTITIONS: "2", SLUICE_LOG_LEVEL: "silent" });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const rssBefore = rssKb();
  const reply = { code: 250, text: "2.0.0 OK  1732550400 d2e1a72fcca58-7250d4f2a1csi1234567b3a.12 - gsmtp" };
  for (let i = 0; i < N; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, N - i) }, () => {
        const id = recipientId(newId(), 0);
        const e: MailEvent = { v: 1, id: eventId(id, "delivered", 1), type: "delivered", tenant: "acme", messageId: id, at: Date.now(), attempt: 1, mx: "gmail-smtp-in.l.google.com", reply };
        return publishEvent(js, e);
      }),
    );
  }
  const start = performance.now();
  const indexer = await startStatusIndexer(nc, config, pino({ level: "silent" }));
  for (;;) {
    const info = await jsm.consumers.info("MAIL_EVENTS", "status_indexer");
    if (info.num_pending === 0 && info.num_ack_pending === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const secs = (performance.now() - start) / 1000;
  await indexer.close();
  const kv = await jsm.streams.info(`KV_${KV_BUCKETS.status}`);
  console.log(`status index: ${N} events in ${secs.toFixed(2)} s = ${Math.round(N / secs)} events/s (one indexer process)`);
  const rssAfter = rssKb();
  console.log(`nats-server RSS: ${Math.round(rssBefore / 1024)} MB → ${Math.round(rssAfter / 1024)} MB (events stream and index together: ${Math.round(((rssAfter - rssBefore) * 1024) / N)} bytes per message)`);
  console.log(`bucket: ${kv.state.messages} entries, ${kv.state.bytes} bytes = ${Math.round(kv.state.bytes / kv.state.messages)} bytes/entry on disk`);
} finally {
  await nc.close();
  await server.dispose();
}
