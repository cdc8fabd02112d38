import { connectNats, createProducer, isSluiceError, loadConfig, temporaryError } from "../../protocol/index.ts";
import type { Answer, Submitter } from "./gateway-client.ts";

/**
 * `--direct`: publish straight to NATS (NATS_URL) with the producer SDK — the same
 * validation and messages as the gateway, without HTTP or an API key. SLUICE_PARTITIONS
 * must match the cluster's.
 */
export async function directSubmitter(tenant: string): Promise<{ submitter: Submitter; close(): Promise<void> }> {
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-send").catch((e: unknown) => {
    throw temporaryError("nats_unavailable", `cannot reach NATS at ${config.nats.servers.join(",")}: ${e instanceof Error ? e.message : String(e)}`);
  });
  const producer = await createProducer(nc, { tenant, partitions: config.partitions, inlinePayloadMaxBytes: config.inlinePayloadMaxBytes });
  const answer = async <T>(publish: () => Promise<T>): Promise<Answer<T>> => {
    try {
      return { ok: true, status: 202, body: await publish() };
    } catch (e) {
      if (!isSluiceError(e)) throw e;
      const a: Answer<T> = { ok: false, status: e.kind === "validation" ? 400 : 503, code: e.code, message: e.message };
      if (e.field !== undefined) a.field = e.field;
      return a;
    }
  };
  return {
    submitter: {
      message: (body) => answer(() => producer.send(body)),
      batch: (body) => answer(() => producer.sendBatch(body)),
    },
    close: () => nc.drain(),
  };
}
