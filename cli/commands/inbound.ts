import { readFileSync } from "node:fs";
import { startInbound } from "../../actors/index.ts";
import { loadConfig, parseInbound, validationError, type InboundReport } from "../../protocol/index.ts";
import { connectNats, ensureTopology, topologyFor, topologyOptionsFrom } from "../../protocol/io/index.ts";
import { onShutdown } from "../lifecycle.ts";
import { createLogger, logEffectiveConfig } from "../logger.ts";

export const help = `sluice inbound
sluice inbound parse <file.eml> [--json] [--rcpt <envelope recipient>]

Without arguments: run the inbound role alone — an SMTP server on
SLUICE_INBOUND_HOST:SLUICE_INBOUND_PORT (default 2526) that accepts mail only for
SLUICE_BOUNCE_DOMAIN (VERP addresses b-… and fbl@), stores it on MAIL_INBOUND, and the
consumer that parses it: asynchronous bounces, feedback-loop complaints (ARF) and
auto-replies become events (bounced with async, soft_bounced, complained, auto_replied) and,
for hard bounces and complaints about a signed address, suppressions. Needs
SLUICE_SECRET_KEY. A node runs the same as its role "inbound".

parse: print what Sluice reads in one message (a bounce, a feedback report, an auto-reply):
its kind (dsn, arf, autoreply, unknown) and per recipient the address, action, status,
diagnostic, outcome (hard, soft, complaint, autoreply, delivered) and category. --json
prints {"kind","recipients":[...],"feedbackType"?,"recipientId"?}. Nothing is changed.`;

export async function run(args: string[]): Promise<void> {
  if (args[0] === "parse") return parse(args.slice(1));
  if (args.length > 0) throw validationError("invalid_arguments", `unknown argument "${args[0]}"; see 'sluice inbound --help'`);
  const config = loadConfig();
  const logger = createLogger(config, "sluice-inbound");
  logEffectiveConfig(logger, config);
  if (config.bounceDomain === undefined) throw validationError("invalid_config", "sluice inbound needs SLUICE_BOUNCE_DOMAIN (and SLUICE_SECRET_KEY)", "SLUICE_BOUNCE_DOMAIN");
  const nc = await connectNats(config.nats, `sluice-inbound-${config.nodeId}`, { waitOnFirstConnect: true });
  await ensureTopology(nc, topologyFor(topologyOptionsFrom(config)));
  const inbound = await startInbound(nc, config, logger);
  onShutdown(logger, config.shutdownTimeoutMs, async () => {
    await inbound?.close();
    await nc.drain().catch(() => undefined); // shutting down: nothing left to settle
  });
}

async function parse(args: string[]): Promise<void> {
  const json = args.includes("--json");
  const rcptAt = args.indexOf("--rcpt");
  const rcpt = rcptAt >= 0 ? args[rcptAt + 1] : undefined;
  const file = args.find((a, i) => !a.startsWith("--") && (rcptAt < 0 || i !== rcptAt + 1));
  if (file === undefined) throw validationError("invalid_arguments", "usage: sluice inbound parse <file.eml> [--json] [--rcpt <address>]");
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw validationError("invalid_arguments", `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const { report } = await parseInbound(raw, rcpt === undefined ? {} : { envelopeTo: [rcpt] });
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : describe(report));
}

function describe(r: InboundReport): string {
  const lines = [`kind: ${r.kind}${r.feedbackType ? ` (feedback type ${r.feedbackType})` : ""}${r.recipientId ? `, recipient id ${r.recipientId}` : ""}`];
  if (r.recipients.length === 0) lines.push("no recipients found");
  for (const x of r.recipients) {
    lines.push(`${x.address}: ${x.outcome} (${x.category})${x.action ? ` action=${x.action}` : ""}${x.status ? ` status=${x.status}` : ""}`);
    if (x.diagnostic) lines.push(`  ${x.diagnostic}`);
  }
  return lines.join("\n") + "\n";
}
