import type { FastifyInstance } from "fastify";
import { watchCluster, type ClusterView } from "../protocol/telemetry/index.ts";
import type { GatewayContext } from "./context.ts";

const watches = new WeakMap<GatewayContext, { view(): ClusterView | undefined }>();

/**
 * The gateway's one live view of the cluster (nodes' snapshots, queue depth, history), for
 * /v1/stats and /v1/tenants alike. The gateway may start before NATS answers: it begins
 * watching once it does.
 */
export function clusterWatch(app: FastifyInstance, ctx: GatewayContext): { view(): ClusterView | undefined } {
  const known = watches.get(ctx);
  if (known !== undefined) return known;
  let view: ClusterView | undefined;
  const attach = (): ClusterView | undefined => {
    const nc = ctx.nats();
    if (view || !nc || nc.isClosed()) return view;
    view = watchCluster(nc, {
      onInvalid: (subject, reason) => ctx.logger.warn({ subject, reason }, "ignored an invalid node stats snapshot"),
    });
    return view;
  };
  const timer = setInterval(attach, 500);
  timer.unref();
  attach();
  app.addHook("onClose", async () => {
    clearInterval(timer);
    view?.close();
  });
  const watch = { view: attach };
  watches.set(ctx, watch);
  return watch;
}
