import { execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitFor } from "./ports.ts";
import { connect } from "node:net";

const run = promisify(execFile);

/**
 * A real Postfix, as a destination that enforces its own limits (anvil): a private
 * instance in a temporary directory (config, queue and data directories of its own), an
 * smtpd on an ephemeral loopback port, every accepted message discarded. Tests count what
 * Postfix itself logged: accepted messages and refusals. Needs root and Debian's postfix
 * package (scripts/ensure-postfix.sh); the package's own instance stays stopped.
 */
export interface PostfixLimits {
  /** smtpd_client_connection_count_limit: concurrent sessions per client (0 = none). */
  connections?: number;
  /** smtpd_client_message_rate_limit: messages per `rateUnitSeconds` per client (0 = none). */
  messages?: number;
  /** anvil_rate_time_unit, in seconds (Postfix's default is 60). */
  rateUnitSeconds?: number;
}

export interface PostfixCounts {
  /** Messages Postfix accepted and handed to its discard agent ("status=sent"). */
  accepted: number;
  /** Distinct recipients among them. */
  recipients: Set<string>;
  /** Sessions refused at the greeting for concurrency. */
  connectionRefusals: number;
  /** Messages refused for the client's message rate. */
  rateRefusals: number;
}

export interface Postfix {
  port: number;
  dir: string;
  /** Change the limits of the running instance (postfix reload). */
  setLimits(limits: PostfixLimits): Promise<void>;
  counts(): PostfixCounts;
  log(): string;
  stop(): Promise<void>;
}

const POSTFIX = "/usr/sbin/postfix";

function limitsConf(l: PostfixLimits): string {
  return [
    `smtpd_client_connection_count_limit = ${l.connections ?? 0}`,
    `smtpd_client_message_rate_limit = ${l.messages ?? 0}`,
    `anvil_rate_time_unit = ${l.rateUnitSeconds ?? 60}s`,
  ].join("\n");
}

/** What a test adds to the instance beyond limits (the reputation loop: Postfix writing real bounces). */
export interface PostfixExtras {
  /**
   * transport_maps entries, key → transport: a recipient or domain to `error:5.1.1 User unknown`
   * (accepted, then bounced by Postfix itself), to `retry:4.2.2 Mailbox full` (deferred), or
   * a bounce domain to `smtp:[127.0.0.1]:<port>` (where Postfix delivers the bounces it writes).
   */
  transports?: Record<string, string>;
  /** maximal_queue_lifetime; "0" = one delivery attempt, then a deferred message bounces at once. */
  queueLifetime?: string;
  /** Relay every accepted message over SMTP to this host:port (a benchmark's sink) instead of discarding it. */
  relayTo?: string;
}

function extrasConf(x: PostfixExtras): string {
  const lines: string[] = [];
  if (x.transports !== undefined) {
    lines.push(`transport_maps = inline:{ ${Object.entries(x.transports).map(([k, v]) => `{ ${k} = ${v} }`).join(", ")} }`);
    // Else smtpd refuses an error:/retry: recipient at RCPT already (a synchronous bounce): accept, then fail.
    lines.push("smtpd_reject_unlisted_recipient = no");
  }
  if (x.queueLifetime !== undefined) lines.push(`maximal_queue_lifetime = ${x.queueLifetime}`, `bounce_queue_lifetime = ${x.queueLifetime}`);
  return lines.join("\n");
}

/** Relay every accepted message over SMTP to this host:port (a benchmark's sink) instead of discarding it. */
function transportConf(relayTo: string | undefined): string {
  if (relayTo === undefined) return "default_transport = discard:\nlocal_transport = discard:\nrelay_transport = discard:";
  return `default_transport = smtp\nrelay_transport = smtp\nlocal_transport = discard:\nrelayhost = [${relayTo.replace(/:(\d+)$/, "]:$1")}`;
}

function mainCf(dir: string, domains: string[], limits: PostfixLimits, extras: PostfixExtras = {}): string {
  const relayTo = extras.relayTo;
  return `compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
meta_directory = /etc/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-test-${process.pid}
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = postfix.sluice.test
mydomain = sluice.test
myorigin = sluice.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = ${domains.join(", ")}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
${transportConf(relayTo)}
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtpd_banner = $myhostname ESMTP
# Loopback is exempt by default (mynetworks); the limits must hold for 127.0.0.1.
smtpd_client_event_limit_exceptions =
# No penalty sleeps after the refusals under test: the limit is what is measured.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 100000
${limitsConf(limits)}
${extrasConf(extras)}
`;
}

function masterCf(port: number): string {
  // No chroot: the temporary directory holds no copy of /etc, /lib for one.
  return [
    `${port} inet n - n - - smtpd`,
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "flush unix n - n 1000? 0 flush",
    "proxymap unix - - n - - proxymap",
    "showq unix n - n - - showq",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "smtp unix - - n - - smtp",
    // anvil counts connections and message rates per client: the limits need it.
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
    "",
  ].join("\n");
}

const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0;

let installed: Promise<unknown> | undefined;

// Instances still running when the process exits (a test that crashed before its clean-up)
// are stopped here, synchronously; a watchdog shell per instance covers a kill -9.
const running = new Set<string>();
process.once("exit", () => {
  for (const dir of running) {
    try {
      execFileSync(POSTFIX, ["-c", dir, "stop"], { stdio: "ignore", timeout: 10_000 });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

export async function startPostfix(o: { domains: string[]; limits?: PostfixLimits } & PostfixExtras): Promise<Postfix> {
  installed ??= run("bash", [join(import.meta.dirname, "../../scripts/ensure-postfix.sh")], { timeout: 300_000 });
  await installed;
  const dir = mkdtempSync(join(tmpdir(), "sluice-postfix-"));
  // Postfix's own daemons (user postfix) must traverse it to reach the queue.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, "queue"), { mode: 0o755 });
  mkdirSync(join(dir, "data"), { mode: 0o755 });
  const port = await freePort();
  let limits: PostfixLimits = o.limits ?? {};
  writeFileSync(join(dir, "main.cf"), mainCf(dir, o.domains, limits, o));
  writeFileSync(join(dir, "master.cf"), masterCf(port));
  writeFileSync(join(dir, "maillog"), "");
  const postfix = (...args: string[]) => run(POSTFIX, ["-c", dir, ...args], { timeout: 30_000 });
  // If this test process disappears, the watchdog stops the instance and removes its files.
  const watchdog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${POSTFIX} -c '${dir}' stop >/dev/null 2>&1; sleep 2; rm -rf '${dir}'`], { detached: true, stdio: "ignore" });
  watchdog.unref();
  const stopWatchdog = (): void => {
    watchdog.kill("SIGKILL");
  };
  running.add(dir);
  const stop = async (): Promise<void> => {
    running.delete(dir);
    stopWatchdog();
    const pid = masterPid(dir);
    await postfix("stop").catch(() => undefined);
    // postfix stop returns before the master and its children have exited.
    if (pid !== undefined) await waitFor("postfix master to exit", () => (alive(pid) ? undefined : true), 10_000).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await postfix("set-permissions");
    await postfix("start");
    await waitFor(`postfix listening on ${port}`, () => greets(port), 20_000, 100);
  } catch (e) {
    process.stderr.write(readFileSync(join(dir, "maillog"), "utf8").split("\n").slice(-20).join("\n"));
    await stop();
    throw e;
  }
  const log = (): string => readFileSync(join(dir, "maillog"), "utf8");
  return {
    port,
    dir,
    log,
    counts: () => {
      const text = log();
      const sent = [...text.matchAll(/discard\[\d+\]: \w+: to=<([^>]+)>.*status=sent/g)].map((m) => m[1] ?? "");
      return {
        accepted: sent.length,
        recipients: new Set(sent),
        // anvil's warnings, one per refused session or message (the 421/450 replies themselves are not logged).
        connectionRefusals: count(text, /Connection concurrency limit exceeded/g),
        rateRefusals: count(text, /Message delivery request rate limit exceeded/g),
      };
    },
    setLimits: async (next) => {
      limits = { ...limits, ...next };
      writeFileSync(join(dir, "main.cf"), mainCf(dir, o.domains, limits, o));
      await postfix("reload");
    },
    stop,
  };
}

function masterPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dir, "queue", "pid", "master.pid"), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True once the port answers with a 220 greeting. */
function greets(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.setTimeout(2000);
    s.once("data", (d) => {
      s.end("QUIT\r\n");
      resolve(d.toString().startsWith("220") ? true : undefined);
    });
    s.once("error", () => resolve(undefined));
    s.once("timeout", () => {
      s.destroy();
      resolve(undefined);
    });
  });
}
