import { describeConfig, loadConfig } from "../../protocol/index.ts";

export const help = `sluice config

Print the effective configuration (defaults, then environment variables) as NAME=value
lines, secrets masked. Exits non-zero, naming the variable, when a value is invalid.

It reads THIS shell's environment: a node or gateway already running may have been started
with another one. A running process logs its own effective configuration at start-up
("configuration" line), and its /metrics carry its version and roles.`;

export async function run(): Promise<void> {
  const config = loadConfig();
  process.stdout.write("# the configuration this shell's environment gives (defaults, then SLUICE_* variables); a running node or gateway may have been started with another\n");
  process.stdout.write(describeConfig(config).join("\n") + "\n");
}
