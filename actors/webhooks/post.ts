import { isIP } from "node:net";
import { Agent, buildConnector, request } from "undici";
import {
  isPrivateAddress,
  SIGNATURE_HEADER,
  signWebhook,
  type MailEvent,
  errorMessage,
  type WebhookEvent,
} from "../../protocol/index.ts";
import { publicOnlyLookup } from "../../protocol/io/index.ts";

export type PostOutcome = { ok: true; status: number } | { ok: false; status?: number; error: string };

/**
 * One HTTP client for all endpoints. Unless private addresses are allowed, its sockets
 * resolve hosts through the public-only lookup: a URL that was public at registration and
 * now points inside (DNS rebinding) is refused at connect time. A literal IP never reaches
 * a lookup, so the connector checks it itself (an endpoint stored before the check knew
 * the IPv6 forms that embed an IPv4 address would otherwise still be called).
 */
export function webhookAgent(opts: { allowPrivate: boolean; timeoutMs: number }): Agent {
  if (opts.allowPrivate) return new Agent({ connect: { timeout: opts.timeoutMs }, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, connections: 8 });
  const connector = buildConnector({ timeout: opts.timeoutMs, lookup: publicOnlyLookup });
  const connect: buildConnector.connector = (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) !== 0 && isPrivateAddress(host)) {
      callback(Object.assign(new Error(`${host} is a private address; refused`), { code: "EPRIVATEADDRESS" }), null);
      return;
    }
    connector(options, callback);
  };
  return new Agent({
    connect,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connections: 8,
  });
}

/** POST one event, signed; 2xx is success, anything else (or no answer) is retried by the caller. */
export async function postEvent(agent: Agent, url: string, secret: string, event: WebhookEvent, timeoutMs: number): Promise<PostOutcome> {
  const body = JSON.stringify(event);
  try {
    const res = await request(url, {
      method: "POST",
      dispatcher: agent,
      body,
      headers: {
        "content-type": "application/json",
        "user-agent": "Sluice-Webhooks/1",
        [SIGNATURE_HEADER]: signWebhook(secret, body),
        "sluice-event-id": event.id,
        "sluice-event-type": event.type,
      },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // Read (and bound) the answer so the connection is reused; its content is not used.
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
    return { ok: false, status: res.statusCode, error: `HTTP ${res.statusCode}` };
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { ok: false, error: `${code ?? "error"}: ${errorMessage(e)}` };
  }
}
