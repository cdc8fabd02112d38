import { createServer, type Server } from "node:http";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { startNode, type ActorNode } from "../../../actors/index.ts";
import { startNodeServices, type NodeServices } from "../../../actors/services.ts";
import { startGateway, type Gateway } from "../../../gateway/index.ts";
import {
  eventId,
  KV_BUCKETS,
  newId,
  recipientId,
  type EnvName,
  type MailEvent,
} from "../../../protocol/index.ts";
import { createApiKey, publishEvent } from "../../../protocol/io/index.ts";
import { startSmtpPeer, type SmtpPeer, type SmtpPeerOptions } from "../../harness/smtp-peer.ts";
import { startWorld, type DeliveryWorld } from "../delivery-fixtures.ts";
import { untilEndpointLive } from "./endpoint-live.ts";
import { assertResponsesDocumented, responseCheck } from "./response-check.ts";

/** A webhook POST as the receiver got it. */
export interface ReceivedHook {
  body: string;
  signature: string | undefined;
  event: MailEvent;
}

/**
 * The whole path for end-to-end failure tests: a scripted SMTP peer, NATS, one node with
 * every service, a listening gateway with an admin key of tenant `acme`, and a webhook
 * receiver on loopback.
 */
export interface Pipeline {
  world: DeliveryWorld;
  peer: SmtpPeer;
  key: string;
  hooks: ReceivedHook[];
  hookUrl: string;
  /** The gateway's base URL (for requests without an API key). */
  gatewayUrl: string;
  /** A JSON request to the gateway, with `key` unless another is given. */
  api(method: string, path: string, body?: unknown, as?: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Register the receiver for `events`; resolves once it receives events (a probe got through). */
  registerHook(events: string[]): Promise<{ secret: string }>;
  close(): Promise<void>;
}

export async function startPipeline(peerOptions: SmtpPeerOptions, env: Partial<Record<EnvName, string>> = {}): Promise<Pipeline> {
  const peer = await startSmtpPeer(peerOptions);
  const world = await startWorld({
    SLUICE_ROUTES: `*=127.0.0.1:${peer.port}`,
    SLUICE_WEBHOOK_ALLOW_PRIVATE: "1",
    SLUICE_HTTP_HOST: "127.0.0.1",
    SLUICE_HTTP_PORT: "0",
    ...env,
  });
  const node: ActorNode = await startNode(world.config, world.logger, world.nc);
  const services: NodeServices = await startNodeServices(world.nc, world.config, world.logger);
  const check = responseCheck();
  const gateway: Gateway = await startGateway(world.config, pino({ level: "silent" }), world.nc, { keyCacheMs: 200, configure: check.install });
  const base = `http://127.0.0.1:${gateway.port}`;
  const key = (await createApiKey(await new Kvm(world.nc).open(KV_BUCKETS.keys), { tenant: "acme", scopes: ["admin"] })).key;
  const hooks: ReceivedHook[] = [];
  const receiver: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const sig = req.headers["sluice-signature"];
      hooks.push({ body, signature: typeof sig === "string" ? sig : undefined, event: JSON.parse(body) as MailEvent });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const addr = receiver.address();
  const hookUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/hook`;

  const api: Pipeline["api"] = async (method, path, body, as = key) => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${as}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };

  const registerHook: Pipeline["registerHook"] = async (events) => {
    if (!events.includes("delivered")) throw new Error("registerHook probes with a delivered event: subscribe to it");
    const hook = await api("POST", "/v1/webhooks", { url: hookUrl, events });
    if (hook.status !== 201) throw new Error(`webhook registration answered ${hook.status}: ${JSON.stringify(hook.json)}`);
    // The events consumer and the webhook actor learn of it through KV watches.
    const probe = recipientId(newId(), 0);
    let attempt = 1;
    await untilEndpointLive(
      () => publishEvent(world.js, { v: 1, id: eventId(probe, "delivered", attempt), type: "delivered", tenant: "acme", messageId: probe, at: Date.now(), attempt: attempt++ }),
      () => hooks.filter((h) => h.event.messageId === probe).length,
    );
    return { secret: hook.json.secret as string };
  };

  return {
    world,
    peer,
    key,
    hooks,
    hookUrl,
    gatewayUrl: base,
    api,
    registerHook,
    close: async () => {
      await gateway.close();
      await services.close();
      await node.close();
      await peer.close();
      receiver.closeAllConnections();
      await new Promise<void>((r) => receiver.close(() => r()));
      await world.dispose();
      assertResponsesDocumented(check.problems);
    },
  };
}
