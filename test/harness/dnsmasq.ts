import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { promises as dns } from "node:dns";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./ports.ts";

const DNSMASQ = "/usr/sbin/dnsmasq";
const GENERATION = "_generation.sluice-harness.invalid";

/**
 * A real DNS server for tests: Debian's dnsmasq (scripts/ensure-dnsmasq.sh) on an ephemeral
 * loopback port, answering only the TXT and MX records a test writes (`local=/#/`: anything
 * else is NXDOMAIN, nothing is forwarded). dnsmasq reads these records only at start, so
 * `apply()` restarts it on the same port and waits until the new records are served (a
 * generation TXT record says which configuration answers).
 */
export interface DnsServer {
  /** `127.0.0.1:<port>`, for SLUICE_DNS_SERVERS. */
  address: string;
  port: number;
  /** The TXT record of `name` (replaces the one set before). */
  txt(name: string, strings: string | string[]): void;
  /** The A record of `name`. */
  a(name: string, address: string): void;
  /** One more MX record of `name`. */
  mx(name: string, host: string, priority?: number): void;
  remove(name: string): void;
  /** Serve the records written so far. */
  apply(): Promise<void>;
  /** A resolver asking this server only. */
  resolver(): InstanceType<typeof dns.Resolver>;
  close(): Promise<void>;
}

const live = new Set<() => void>();
process.once("exit", () => {
  for (const stop of live) stop();
});

export async function startDnsServer(): Promise<DnsServer> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-dnsmasq-"));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const records = new Map<string, string[]>(); // name → config lines
  let generation = 0;
  let child: ChildProcess | undefined;

  // If the test process is killed, the watchdog stops the running instance (its pid is in the file) and removes the directory.
  const watchdog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill $(cat '${dir}/pid' 2>/dev/null) 2>/dev/null; sleep 1; rm -rf '${dir}'`], { detached: true, stdio: "ignore" });
  watchdog.unref();
  const stopNow = (): void => {
    child?.kill("SIGKILL");
    watchdog.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(stopNow);

  const quote = (s: string): string => `"${s.replace(/(["\\])/g, "\\$1")}"`;
  const resolver = (): InstanceType<typeof dns.Resolver> => {
    const r = new dns.Resolver({ timeout: 1000, tries: 1 });
    r.setServers([address]);
    return r;
  };

  const stopChild = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    await exited;
  };

  const apply = async (): Promise<void> => {
    generation++;
    const lines = [
      `port=${port}`,
      "listen-address=127.0.0.1",
      "bind-interfaces",
      "no-resolv",
      "no-hosts",
      "no-poll",
      "cache-size=0",
      "local=/#/",
      `txt-record=${GENERATION},"${generation}"`,
      ...[...records.values()].flat(),
    ];
    writeFileSync(join(dir, "dnsmasq.conf"), lines.join("\n") + "\n");
    await stopChild();
    const c = spawn(DNSMASQ, ["-k", `--conf-file=${join(dir, "dnsmasq.conf")}`, "--pid-file=", "--log-facility=-"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    c.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child = c;
    if (c.pid !== undefined) writeFileSync(join(dir, "pid"), String(c.pid));
    const want = String(generation);
    const r = resolver();
    await waitFor(`dnsmasq on ${address} serving generation ${want}`, async () => {
      if (c.exitCode !== null) throw new Error(`dnsmasq exited (${c.exitCode}): ${stderr}`);
      const answer = await r.resolveTxt(GENERATION);
      return answer.some((parts) => parts.join("") === want) ? true : undefined;
    }, 10_000, 50);
  };

  await apply();
  return {
    address,
    port,
    txt: (name, strings) => records.set(`txt ${name}`, [`txt-record=${name},${(Array.isArray(strings) ? strings : [strings]).map(quote).join(",")}`]),
    a: (name, address) => records.set(`a ${name}`, [`host-record=${name},${address}`]),
    mx: (name, host, priority = 10) => records.set(`mx ${name}`, [...(records.get(`mx ${name}`) ?? []), `mx-host=${name},${host},${priority}`]),
    remove: (name) => {
      records.delete(`txt ${name}`);
      records.delete(`mx ${name}`);
      records.delete(`a ${name}`);
    },
    apply,
    resolver,
    close: async () => {
      live.delete(stopNow);
      await stopChild();
      watchdog.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
