import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { pino } from "pino";
import { startGateway, type Gateway } from "../../gateway/index.ts";
import {
  KV_BUCKETS,
  loadConfig,
  STREAMS,
  type Config,
  type EnvName,
  type Scope,
} from "../../protocol/index.ts";
import { createApiKey, ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { startNatsServer, type NatsServer } from "../harness/nats-server.ts";
import { assertResponsesDocumented, responseCheck } from "./support/response-check.ts";

/** A real nats-server, the topology (without MAIL_SEND consumers, so tests can read the stream), and a gateway. */
export interface GatewayFixture {
  server: NatsServer & { crash(): Promise<void> };
  nc: NatsConnection;
  jsm: JetStreamManager;
  keys: KV;
  config: Config;
  gateway: Gateway;
  url: string;
  key(tenant: string, scopes?: Scope[], rate?: number): Promise<string>;
  post(path: string, body: unknown, key: string | undefined, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
  get(path: string, key: string | undefined): Promise<{ status: number; headers: Headers; body: any }>;
  sendCount(): Promise<number>;
  close(): Promise<void>;
}

export async function startGatewayFixture(env: Partial<Record<EnvName, string>> = {}): Promise<GatewayFixture> {
  const server = await startNatsServer("gateway-test");
  const config = loadConfig({
    NATS_URL: server.url,
    SLUICE_HTTP_HOST: "127.0.0.1",
    SLUICE_HTTP_PORT: "0",
    SLUICE_PARTITIONS: "4",
    SLUICE_LOG_LEVEL: "silent",
    // Tests send from domains no tenant verified; domains-*.test.ts turn the rule on.
    SLUICE_REQUIRE_VERIFIED_DOMAINS: "0",
    ...env,
  });
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const topology = topologyFor(topologyOptionsFrom(config));
  await ensureTopology(nc, { ...topology, consumers: topology.consumers.filter((c) => c.stream !== STREAMS.send) });
  const jsm = await jetstreamManager(nc);
  const keys = await new Kvm(nc).open(KV_BUCKETS.keys);
  const check = responseCheck();
  const gateway = await startGateway(config, pino({ level: "silent" }), undefined, { keyCacheMs: 200, configure: check.install });
  const url = `http://127.0.0.1:${gateway.port}`;
  const answer = async (res: Response) => {
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body };
  };
  const fx: GatewayFixture = {
    server,
    nc,
    jsm,
    keys,
    config,
    gateway,
    url,
    key: async (tenant, scopes = ["send", "read"], rate) => (await createApiKey(keys, { tenant, scopes, rate })).key,
    post: async (path, body, key, headers = {}) =>
      answer(
        await fetch(url + path, {
          method: "POST",
          headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      ),
    get: async (path, key) => answer(await fetch(url + path, { headers: key ? { authorization: `Bearer ${key}` } : {} })),
    sendCount: async () => (await jsm.streams.info(STREAMS.send)).state.messages,
    close: async () => {
      await gateway.close();
      await nc.close();
      await server.dispose();
      assertResponsesDocumented(check.problems);
    },
  };
  return fx;
}

export const simpleMessage = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  from: "Acme <news@acme.test>",
  to: "ann@example.com",
  subject: "Hello",
  text: "Hi there",
  ...over,
});
