import { parseArgs } from "node:util";
import {
  loadConfig,
  STATS_INTERVAL_MS,
  temporaryError,
  validationError,
  errorMessage,
  decode,
  subjects,
  VolumeSnapshot,
  type ScheduledVolume,
} from "../../protocol/index.ts";
import { connectNats } from "../../protocol/io/index.ts";
import { watchCluster } from "../../protocol/telemetry/index.ts";
import { onShutdownSimple } from "../top/signals.ts";
import { renderFrame } from "../top/render.ts";
import { tenantSection } from "../top/tenant-source.ts";

export const help = `sluice top

A live view of the running cluster, read from NATS (NATS_URL): per tier, what MAIL_SEND
holds (QUEUED: waiting, deferred and in flight, until acknowledged) and what nodes hold
unacknowledged (IN FLIGHT); per destination, its actor state, measured delivery rate,
allowed rate (2.5/10.0 = learned 2.5/s from the destination's refusals, policy 10/s),
connections (2/3/10 = 2 open, 3 learned, 10 by policy), queue and outcomes; per tenant
(the busiest --tenants), what nodes hold, bulk held by the reputation breaker, delivered/s,
today's quota use, the last 24 h bounce and complaint rates and the breaker's status.
Redraws every --interval seconds (default 2).

  --once         print one frame and exit (waits for a round of node snapshots)
  --interval S   seconds between redraws
  --limit N      destinations shown (default: as many as fit)
  --tenants N    tenants shown (default 10)`;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: { once: { type: "boolean", default: false }, interval: { type: "string", default: "2" }, limit: { type: "string" }, tenants: { type: "string", default: "10" } },
  });
  const intervalMs = Number(values.interval) * 1000;
  if (!(intervalMs >= 200)) throw validationError("invalid_arguments", "--interval must be a number of seconds, at least 0.2", "interval");
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw validationError("invalid_arguments", "--limit must be a positive whole number", "limit");
  const maxTenants = Number(values.tenants);
  if (!(Number.isInteger(maxTenants) && maxTenants >= 0)) throw validationError("invalid_arguments", "--tenants must be a whole number", "tenants");

  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-top", { waitOnFirstConnect: false }).catch((e: unknown) => {
    throw temporaryError("nats_unavailable", `cannot reach NATS at ${config.nats.servers.join(",")}: ${errorMessage(e)}`);
  });
  const view = watchCluster(nc, { manual: true, intervalMs: STATS_INTERVAL_MS });
  const tenants = tenantSection(nc);
  // Scheduling: the scheduler leader publishes the volume of the next hours every 15 s.
  let scheduled: ScheduledVolume | undefined;
  nc.subscribe(subjects.scheduleVolume, {
    callback: (err, msg) => {
      if (err) return;
      const v = decode(VolumeSnapshot, msg.data, "scheduled volume");
      if (v.ok) scheduled = v.value;
    },
  });
  if (values.once) {
    try {
      // Two snapshots per node give rates; nodes publish every STATS_INTERVAL_MS.
      await view.settled(2 * STATS_INTERVAL_MS + 1000);
      await view.refresh();
      const stats = view.current(false);
      process.stdout.write(renderFrame(stats, { ...(limit === undefined ? {} : { maxDestinations: limit }), scheduled }));
      if (maxTenants > 0) process.stdout.write(`\n${await tenants.render({ inFlight: stats.tenantsInFlight ?? {}, overQuota: scheduled?.heldForQuota ?? {} }, { max: maxTenants })}`);
    } finally {
      view.close();
      await nc.close();
    }
    return;
  }

  const draw = async (): Promise<void> => {
    await view.refresh();
    const rows = process.stdout.rows ?? 40;
    const stats = view.current(false);
    const width = process.stdout.columns ?? 120;
    const tenantRows = maxTenants > 0 ? `\n${await tenants.render({ inFlight: stats.tenantsInFlight ?? {}, overQuota: scheduled?.heldForQuota ?? {} }, { max: maxTenants, width })}` : "";
    const frame = renderFrame(stats, { width, maxDestinations: limit ?? Math.max(5, rows - 18 - (maxTenants > 0 ? maxTenants + 3 : 0)), scheduled }) + tenantRows;
    // Home, draw, clear what is left of the previous frame: no flicker from a full clear.
    process.stdout.write(`\x1b[H${frame.replace(/\n/g, "\x1b[K\n")}\x1b[J`);
  };
  process.stdout.write("\x1b[?25l\x1b[2J");
  const timer = setInterval(() => void draw(), intervalMs);
  await draw();
  await onShutdownSimple(async () => {
    clearInterval(timer);
    view.close();
    process.stdout.write("\x1b[?25h\n");
    await nc.close();
  });
}


