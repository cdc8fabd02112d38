import {
  isSluiceError,
  loadConfig,
  newId,
  temporaryError,
  errorMessage,
} from "../../protocol/index.ts";
import { connectNats, createProducer, DOMAIN_ERROR_STATUS } from "../../protocol/io/index.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { RETRIES, type Answer, type Submitter } from "./gateway-client.ts";

/**
 * `--direct`: publish straight to NATS (NATS_URL) with the producer SDK — the same
 * validation and messages as the gateway, without HTTP or an API key. SLUICE_PARTITIONS
 * must match the cluster's. A temporary failure (NATS unreachable, a stream full) is
 * retried a few times, as the gateway client waits out a 503, under the request id of the
 * first try: its messages may have been stored with their acks lost, and the same id
 * makes JetStream drop the repeats.
 */
export async function directSubmitter(tenant: string): Promise<{ submitter: Submitter; close(): Promise<void> }> {
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-send").catch((e: unknown) => {
    throw temporaryError("nats_unavailable", `cannot reach NATS at ${config.nats.servers.join(",")}: ${errorMessage(e)}`);
  });
  const producer = await createProducer(nc, {
    tenant,
    partitions: config.partitions,
    inlinePayloadMaxBytes: config.inlinePayloadMaxBytes,
    requireVerifiedDomains: config.domains.requireVerified,
  });
  const answer = async <T>(publish: (requestId: string) => Promise<T>): Promise<Answer<T>> => {
    const requestId = newId();
    for (let attempt = 0; ; attempt++) {
      try {
        return { ok: true, status: 202, body: await publish(requestId) };
      } catch (e) {
        if (!isSluiceError(e)) throw e;
        if (e.kind === "temporary" && attempt < RETRIES) {
          await sleep(500 * 2 ** attempt);
          continue;
        }
        const a: Answer<T> = { ok: false, status: e.kind === "validation" ? (DOMAIN_ERROR_STATUS[e.code] ?? 400) : 503, code: e.code, message: e.message };
        if (e.field !== undefined) a.field = e.field;
        return a;
      }
    }
  };
  return {
    submitter: {
      message: (body) => answer((requestId) => producer.send(body, { requestId })),
      batch: (body) => answer((requestId) => producer.sendBatch(body, { requestId })),
    },
    close: () => nc.drain(),
  };
}
