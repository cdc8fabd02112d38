import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { Kvm } from "@nats-io/kv";
import { applyKvPolicies, PolicyBook, startNode, type ActorNode } from "../../actors/index.ts";
import { encode, KV_BUCKETS, partitionOf } from "../../protocol/index.ts";
import { waitFor } from "../harness/ports.ts";
import { startSmtpPeer, type SmtpPeer } from "../harness/smtp-peer.ts";
import { messages, publish, sendStreamMessages, startWorld, writePolicies, type DeliveryWorld } from "./delivery-fixtures.ts";

let world: DeliveryWorld;
let peer: SmtpPeer;
const nodes: ActorNode[] = [];
const policies = writePolicies({ domains: { "live.test": { messagesPerSecond: 4, burst: 1 }, "slow.test": { messagesPerSecond: 4, burst: 1, maxConnections: 1 } } });

before(async () => {
  peer = await startSmtpPeer();
  world = await startWorld({ SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`, SLUICE_POLICIES: policies.path });
});

after(async () => {
  for (const n of nodes) await n.close();
  await peer?.close();
  await world?.dispose();
  policies.remove();
});

test("a policy written to the sluice_policies bucket applies live, without a restart", async () => {
  const node = await startNode(world.config, world.logger, world.nc);
  nodes.push(node);
  await publish(world, messages(60, (i) => `l${i}@live.test`));
  await waitFor("first deliveries at 4/s", () => (peer.messagesFor("live.test").length >= 1 ? true : undefined), 10_000);
  const kv = await new Kvm(world.nc).open(KV_BUCKETS.policies);
  await kv.put("live.test", encode({ messagesPerSecond: 100, burst: 10 }));
  // At the file's 4/s this would take 15 s.
  await waitFor("all 60 after the live change", () => (peer.messagesFor("live.test").length >= 60 ? true : undefined), 8_000, 100);
  const book = new PolicyBook();
  await applyKvPolicies(world.nc, book);
  assert.equal(book.resolve("live.test").source, "kv");
  assert.equal(node.stats().destinations.find((d) => d.key === "live.test")?.configuredRatePerSecond, 100);
  await node.close();
});

test("setPartitions: a node consumes only its partitions and hands back what it holds, losing nothing", async () => {
  const p = partitionOf("slow.test", world.config.partitions);
  const others = Array.from({ length: world.config.partitions }, (_, i) => i).filter((i) => i !== p);
  const node = await startNode(world.config, world.logger, world.nc, { partitions: others });
  nodes.push(node);
  assert.deepEqual(node.partitions(), others);
  await publish(world, messages(40, (i) => `s${i}@slow.test`));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(peer.messagesFor("slow.test").length, 0, "not owned: not consumed");
  await node.setPartitions([...others, p]);
  await waitFor("some delivered", () => (peer.messagesFor("slow.test").length >= 4 ? true : undefined), 10_000);
  await node.setPartitions(others);
  const deliveredByFirst = peer.messagesFor("slow.test").length;
  assert.ok(!node.stats().destinations.some((d) => d.key === "slow.test" && Object.values(d.queued).some((n) => n > 0)), "nothing of the released partition is held");
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(peer.messagesFor("slow.test").length, deliveredByFirst, "no sends after release");
  assert.equal(await sendStreamMessages(world), 40 - deliveredByFirst, "the rest is back in JetStream");
  const second = await startNode({ ...world.config, nodeId: "second" }, world.logger, world.nc, { partitions: [p] });
  nodes.push(second);
  await waitFor("the new owner delivers the rest", () => (new Set(peer.messagesFor("slow.test").map((m) => m.rcptTo[0])).size >= 40 ? true : undefined), 20_000, 100);
  assert.equal(peer.messagesFor("slow.test").length, 40, "no duplicates");
});
