import { describeConfig, loadConfig } from "../../protocol/index.ts";

export const help = `sluice config

Print the effective configuration (defaults, then environment variables) as NAME=value
lines, secrets masked. Exits non-zero, naming the variable, when a value is invalid.`;

export async function run(): Promise<void> {
  const config = loadConfig();
  process.stdout.write(describeConfig(config).join("\n") + "\n");
}
