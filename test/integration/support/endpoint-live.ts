import { waitFor } from "../../harness/ports.ts";

/**
 * Wait until a just-registered webhook endpoint is live: the events consumer and the webhook
 * actor learn of it through KV watches, which take longer than any fixed pause on a busy
 * machine. Publishes one probe event (of a type the endpoint subscribes to, on a message id
 * of its own) per poll until the endpoint has received one; tests leave the probes out of
 * what they count.
 */
export async function untilEndpointLive(publishProbe: () => Promise<void>, probesReceived: () => number, what = "the webhook endpoint to be live"): Promise<void> {
  await waitFor(
    what,
    async () => {
      if (probesReceived() > 0) return true;
      await publishProbe();
      return undefined;
    },
    30_000,
    400,
  );
}
