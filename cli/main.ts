import { isSluiceError } from "../protocol/index.ts";
import { startCommandTelemetry } from "./telemetry.ts";

interface Command {
  help: string;
  run(args: string[]): Promise<void>;
}

// Loaded lazily so that `sluice config` does not pay for fastify and xstate.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  up: { summary: "gateway + actor node (+ capture SMTP server in the local profile), one process", load: () => import("./commands/up.ts") },
  gateway: { summary: "run the HTTP gateway", load: () => import("./commands/gateway.ts") },
  node: { summary: "run an actor node", load: () => import("./commands/node.ts") },
  cluster: { summary: "show actor nodes, their lease age and the partitions each owns", load: () => import("./commands/cluster.ts") },
  init: { summary: "create or update the NATS topology and exit", load: () => import("./commands/init.ts") },
  keys: { summary: "create, list and revoke API keys", load: () => import("./commands/keys.ts") },
  domains: { summary: "add, verify, rotate and remove a tenant's sender domains (DNS records, DKIM keys)", load: () => import("./commands/domains.ts") },
  tenants: { summary: "tenant settings (quota, weight, reputation thresholds), usage, breaker status; resume a paused tenant", load: () => import("./commands/tenants.ts") },
  dlq: { summary: "list, show, replay and purge dead letters", load: () => import("./commands/dlq.ts") },
  config: { summary: "print the effective configuration, secrets masked", load: () => import("./commands/config.ts") },
  policies: { summary: "print the effective per-destination delivery policy table", load: () => import("./commands/policies.ts") },
  top: { summary: "live terminal view of destinations and tiers (--once for one frame)", load: () => import("./commands/top.ts") },
  inbound: { summary: "run the inbound SMTP role (bounces, complaints); 'inbound parse FILE' shows what Sluice reads in one", load: () => import("./commands/inbound.ts") },
  send: { summary: "send one message (--to) or one per CSV row (--csv) with a progress bar and summary", load: () => import("./commands/send.ts") },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `sluice — outbound email delivery on NATS JetStream\n\nUsage: sluice <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun 'sluice <command> --help' for a command's options. Configuration comes from environment variables; see 'sluice config'.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? 1 : 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  startCommandTelemetry(name);
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(command.help + "\n");
    return 0;
  }
  try {
    await command.run(rest);
    return 0;
  } catch (e) {
    if (isSluiceError(e)) {
      process.stderr.write(`sluice ${name}: ${e.message}\n`);
      return e.kind === "validation" ? 2 : 1;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`sluice: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
