import type { FastifyInstance } from "fastify";
import type { Subscription } from "@nats-io/transport-node";
import { decode, subjects, VolumeSnapshot, type ScheduledVolume } from "../protocol/index.ts";
import { watchCluster, type ClusterView } from "../protocol/telemetry/index.ts";
import type { GatewayContext } from "./context.ts";

export interface ClusterWatch {
  view(): ClusterView | undefined;
  /** The scheduler leader's last count of scheduled volume (every 15 s; its quota-held recipients per tenant). */
  volume(): ScheduledVolume | undefined;
}

const watches = new WeakMap<GatewayContext, ClusterWatch>();

/**
 * The gateway's one live view of the cluster (nodes' snapshots, queue depth, history), for
 * /v1/stats and /v1/tenants alike. The gateway may start before NATS answers: it begins
 * watching once it does.
 */
export function clusterWatch(app: FastifyInstance, ctx: GatewayContext): ClusterWatch {
  const known = watches.get(ctx);
  if (known !== undefined) return known;
  let view: ClusterView | undefined;
  let volumes: Subscription | undefined;
  let volume: ScheduledVolume | undefined;
  const attach = (): ClusterView | undefined => {
    const nc = ctx.nats();
    if (view || !nc || nc.isClosed()) return view;
    view = watchCluster(nc, {
      onInvalid: (subject, reason) => ctx.logger.warn({ subject, reason }, "ignored an invalid node stats snapshot"),
    });
    volumes = nc.subscribe(subjects.scheduleVolume, {
      callback: (err, msg) => {
        if (err) return;
        const v = decode(VolumeSnapshot, msg.data, "scheduled volume");
        if (v.ok) volume = v.value;
      },
    });
    return view;
  };
  const timer = setInterval(attach, 500);
  timer.unref();
  attach();
  app.addHook("onClose", async () => {
    clearInterval(timer);
    view?.close();
    volumes?.unsubscribe();
  });
  const watch = { view: attach, volume: () => volume };
  watches.set(ctx, watch);
  return watch;
}
