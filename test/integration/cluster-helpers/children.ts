import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** A child process that prints JSON lines; every line is kept with the child's name. */
export interface Child {
  name: string;
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  exited: Promise<number | null>;
  /** Time (shared clock) at which we sent kill -9, if we did. */
  killedAt?: number;
}

export const sharedNow = (): number => performance.timeOrigin + performance.now();

/** Spawn `node --import tsx <script>` with extra environment; stderr is passed through when TEST_LOG is set. */
export function spawnTs(name: string, script: string | URL, env: Record<string, string>, args: string[] = []): Child {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  const proc = spawn(process.execPath, ["--import", "tsx", path, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", process.env.TEST_LOG ? "inherit" : "ignore"],
  });
  const child: Child = { name, proc, lines: [], exited: new Promise((resolve) => proc.once("exit", (code) => resolve(code))) };
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    try {
      child.lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not ours (a stray console line): ignore
    }
  });
  return child;
}

export function kill9(child: Child): void {
  child.killedAt = sharedNow();
  child.proc.kill("SIGKILL");
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function terminate(child: Child, graceMs = 10_000): Promise<number | null> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return child.proc.exitCode;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), graceMs);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}
