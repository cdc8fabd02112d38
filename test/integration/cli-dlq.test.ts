import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { loadConfig, STREAMS, type DeadLetter } from "../../protocol/index.ts";
import { ensureTopology, publishDeadLetter, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { deliveryMessage } from "./support/failure.ts";

const run = promisify(execFile);
const config = loadConfig({ SLUICE_PARTITIONS: "2" });
let server: NatsServer;
let nc: NatsConnection;

before(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
});
after(async () => {
  await nc?.close();
  await server?.dispose();
});

const sluice = async (...args: string[]) => {
  try {
    const { stdout } = await run(process.execPath, ["bin/sluice.js", "dlq", ...args], {
      env: { ...process.env, NATS_URL: server.url, SLUICE_PARTITIONS: "2", SLUICE_LOG_LEVEL: "silent" },
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr: "" };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
};

function deadLetter(rcptTo: string): DeadLetter {
  const message = deliveryMessage("clico", rcptTo, { attempts: [{ at: Date.now(), code: 550, text: "5.1.1 User Unknown", outcome: "bounce", category: "unknown_user" }] });
  return { v: 1, id: message.id, tenant: "clico", at: Date.now(), reason: { code: "bounce", message: "550 5.1.1 User Unknown" }, message, attempts: message.attempts };
}

test("sluice dlq ls, show, replay and purge work straight on NATS", async () => {
  const js = jetstream(nc);
  const [a, b, c] = [deadLetter("a@cli.test"), deadLetter("b@cli.test"), deadLetter("c@cli.test")];
  for (const dl of [a, b, c]) await publishDeadLetter(js, dl);
  // A record that fails the dead-letter schema is listed too (issue 11), not skipped.
  const odd = deadLetter("odd@cli.test");
  await js.publish(`mail.dlq.clico.${odd.id}`, Buffer.from(`{"id":"${odd.id}","garbled`));

  const ls = await sluice("ls", "--tenant", "clico");
  assert.equal(ls.code, 0, ls.stderr);
  for (const dl of [a, b, c]) assert.match(ls.stdout, new RegExp(`${dl.id}.*bounce.*${dl.message.rcptTo}.*550 5\\.1\\.1 User Unknown`));
  assert.match(ls.stdout, new RegExp(`${odd.id}.*unreadable.*not JSON`));

  const show = await sluice("show", "--tenant", "clico", a.id);
  assert.equal(show.code, 0, show.stderr);
  assert.equal((JSON.parse(show.stdout) as DeadLetter).message.rcptTo, "a@cli.test");

  const replay = await sluice("replay", "--tenant", "clico", a.id);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /replayed .* → a@cli\.test/);
  const jsm = await jetstreamManager(nc);
  assert.equal((await jsm.streams.info(STREAMS.send)).state.messages, 1, "back on MAIL_SEND");

  const purgeOne = await sluice("purge", "--tenant", "clico", b.id);
  assert.match(purgeOne.stdout, new RegExp(`purged ${b.id}`));
  const purgeAll = await sluice("purge", "--tenant", "clico", "--all");
  assert.match(purgeAll.stdout, /purged 2 dead letter/);
  const json = await sluice("ls", "--tenant", "clico", "--json");
  assert.deepEqual(JSON.parse(json.stdout), { deadLetters: [] });

  // Each CLI run pays tsx start-up (seconds on a loaded machine): one error case is enough.
  const missing = await sluice("show", "--tenant", "clico", a.id);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no dead letter/);
});
