import { hostname } from "node:os";
import { z } from "zod";
import { validationError } from "./errors.ts";
import { spfMechanisms } from "./domains.ts";
import { describeRoute, parseRoutes } from "./routes.ts";
import { formatDuration, parseDuration, parseSize } from "./units.ts";

/**
 * Every setting comes from one environment variable, declared once in SETTINGS below, so
 * that a bad value fails fast with a message naming it.
 */

const duration = (what: string) =>
  z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a duration such as 90s, 15m, 72h (${what}), got "${s}"` });
      return z.NEVER;
    }
    return ms;
  });

const size = (what: string) =>
  z.string().transform((s, ctx) => {
    const bytes = parseSize(s);
    if (bytes === undefined) {
      ctx.addIssue({ code: "custom", message: `expected a size such as 512KB, 10MB (${what}), got "${s}"` });
      return z.NEVER;
    }
    return bytes;
  });

const integer = (min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^\d+$/.test(s.trim()) || n < min || n > max) {
      ctx.addIssue({ code: "custom", message: `expected a whole number from ${min} to ${max}, got "${s}"` });
      return z.NEVER;
    }
    return n;
  });

const flag = z.string().transform((s, ctx) => {
  if (/^(1|true|yes|on)$/i.test(s)) return true;
  if (/^(0|false|no|off|)$/i.test(s)) return false;
  ctx.addIssue({ code: "custom", message: `expected 1/0, true/false, yes/no, got "${s}"` });
  return z.NEVER;
});

const schedule = z.string().transform((s, ctx) => {
  const steps = s.split(",").map((part) => parseDuration(part));
  if (steps.length === 0 || steps.some((ms) => ms === undefined || ms <= 0)) {
    ctx.addIssue({ code: "custom", message: `expected comma-separated durations such as 1m,5m,15m, got "${s}"` });
    return z.NEVER;
  }
  return steps as number[];
});

const routes = z.string().transform((s, ctx) => {
  const parsed = parseRoutes(s);
  if ("error" in parsed) {
    ctx.addIssue({ code: "custom", message: parsed.error });
    return z.NEVER;
  }
  return parsed.routes;
});

/** What a `sluice node` process runs; operators split delivery from the event services. */
export const NODE_ROLES = ["delivery", "fanout", "dead-letterer", "events", "webhooks", "inbound", "scheduler"] as const;
export type NodeRole = (typeof NODE_ROLES)[number];

const nodeRoles = z.string().transform((s, ctx) => {
  const parts = s.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (parts.length === 1 && parts[0] === "all") return [...NODE_ROLES];
  if (parts.length === 1 && parts[0] === "services") return NODE_ROLES.filter((r) => r !== "delivery");
  const unknown = parts.filter((p) => !(NODE_ROLES as readonly string[]).includes(p));
  if (parts.length === 0 || unknown.length > 0) {
    ctx.addIssue({ code: "custom", message: `expected "all", "services" or a comma-separated list of ${NODE_ROLES.join(", ")}, got "${s}"` });
    return z.NEVER;
  }
  return NODE_ROLES.filter((r) => parts.includes(r));
});

const fraction = z.string().transform((s, ctx) => {
  const n = Number(s);
  if (!(n >= 0 && n <= 1) || s.trim() === "") {
    ctx.addIssue({ code: "custom", message: `expected a fraction from 0 to 1, got "${s}"` });
    return z.NEVER;
  }
  return n;
});

const dnsServers = z.string().transform((s, ctx) => {
  const list = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
  for (const x of list) {
    if (!/^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:]+\](:\d{1,5})?|[0-9a-fA-F:]+)$/.test(x)) {
      ctx.addIssue({ code: "custom", message: `expected IP[:port] addresses separated by commas (127.0.0.1:5353,10.0.0.2), got "${x}"` });
      return z.NEVER;
    }
  }
  return list;
});

const natsUrls = z.string().transform((s, ctx) => {
  const urls = s.split(",").map((u) => u.trim()).filter((u) => u !== "");
  for (const u of urls) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u) && !/^[\w.-]+:\d+$/.test(u)) {
      ctx.addIssue({ code: "custom", message: `expected nats://host:port[,nats://host:port...], got "${u}"` });
      return z.NEVER;
    }
  }
  return urls;
});

const optional = z.string().transform((s) => s || undefined);
const maskUrl = (u: string): string => u.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:****@");
const showDuration = (ms: number): string => formatDuration(ms);
const showOptional = (v: string | undefined): string => v ?? "";

/**
 * One variable: its default (as the text an operator would write), the schema that parses it
 * (and names the problem), and how `sluice config` prints the effective value.
 */
interface Setting<T> {
  default: string;
  schema: z.ZodType<T>;
  /** The effective value as text; `env` for values whose default depends on another variable. */
  show?: (value: T, env: ShownWith) => string;
  /** Printed masked by `sluice config` and the startup log. */
  secret?: boolean;
}
const setting = <T>(s: Setting<T>): Setting<T> => s;
/** The variables other defaults are derived from (declared apart: `Env` itself comes from the table). */
interface ShownWith {
  SLUICE_PROFILE: "local" | "production";
  SLUICE_EHLO_NAME: string;
}

/**
 * Every setting, declared once. ENV_DEFAULTS, the parsed `Env`, `loadConfig` and
 * `describeConfig` all come from this table; adding a variable is one entry here plus,
 * if the code needs it under a friendlier name, one line in `configOf`.
 */
export const SETTINGS = {
  NATS_URL: setting({ default: "nats://127.0.0.1:4222", schema: natsUrls, show: (v) => v.map(maskUrl).join(",") }),
  NATS_TOKEN: setting({ default: "", schema: optional, show: showOptional, secret: true }),
  NATS_CREDS: setting({ default: "", schema: optional, show: showOptional }),
  SLUICE_PROFILE: setting({ default: "production", schema: z.enum(["local", "production"], { message: 'expected "local" or "production"' }) }),
  SLUICE_HTTP_HOST: setting({ default: "0.0.0.0", schema: z.string().min(1) }),
  SLUICE_HTTP_PORT: setting({ default: "8080", schema: integer(0, 65535) }),
  SLUICE_METRICS_PORT: setting({ default: "9464", schema: integer(0, 65535) }),
  SLUICE_PARTITIONS: setting({ default: "32", schema: integer(1, 1024) }),
  SLUICE_REPLICAS: setting({ default: "1", schema: integer(1, 5) }),
  SLUICE_ROUTES: setting({ default: "", schema: routes, show: (v) => v.map((r) => describeRoute(r)).join(",") }),
  SLUICE_POLICIES: setting({ default: "", schema: optional, show: showOptional }),
  SLUICE_RETRY_SCHEDULE: setting({ default: "1m,5m,15m,30m,1h,2h,4h,8h", schema: schedule, show: (v) => v.map(formatDuration).join(",") }),
  SLUICE_MAX_AGE: setting({ default: "72h", schema: duration("how long a message is retried"), show: showDuration }),
  SLUICE_RETRY_JITTER: setting({ default: "0.2", schema: fraction }),
  SLUICE_ACK_WAIT: setting({ default: "60s", schema: duration("how long a node may hold a message before JetStream redelivers it"), show: showDuration }),
  SLUICE_MAX_ACK_PENDING: setting({ default: "1000000", schema: integer(1, 10_000_000) }),
  SLUICE_PARK_OVERFLOW: setting({ default: "1", schema: flag, show: (v) => (v ? "1" : "0") }),
  SLUICE_SEND_MAX_BYTES: setting({ default: "0", schema: size("MAIL_SEND stream limit, 0 for only the server's limit; a full stream answers 503") }),
  SLUICE_EVENTS_MAX_AGE: setting({ default: "7d", schema: duration("how long events are kept"), show: showDuration }),
  SLUICE_DLQ_MAX_AGE: setting({ default: "30d", schema: duration("how long dead letters are kept"), show: showDuration }),
  SLUICE_DUPLICATE_WINDOW: setting({ default: "2m", schema: duration("JetStream de-duplication window"), show: showDuration }),
  SLUICE_MAX_MESSAGE_SIZE: setting({ default: "10MB", schema: size("largest accepted message") }),
  SLUICE_MAX_BATCH_SIZE: setting({ default: "50MB", schema: size("largest accepted batch request") }),
  // Empty means this host's name, resolved here so that `sluice config` shows what is sent.
  SLUICE_EHLO_NAME: setting({ default: "", schema: z.string().transform((s) => s || hostname()) }),
  SLUICE_DATA_DIR: setting({ default: ".data", schema: z.string().min(1) }),
  SLUICE_CAPTURE_PORT: setting({ default: "2525", schema: integer(0, 65535) }),
  SLUICE_LOG_LEVEL: setting({ default: "info", schema: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]) }),
  SLUICE_WEBHOOK_ALLOW_PRIVATE: setting({ default: "0", schema: flag, show: (v) => (v ? "1" : "0") }),
  SLUICE_WEBHOOK_MAX_AGE: setting({ default: "24h", schema: duration("how long a webhook delivery is retried"), show: showDuration }),
  SLUICE_WEBHOOK_CONCURRENCY: setting({ default: "4", schema: integer(1, 1000) }),
  SLUICE_STATUS_MAX_ENTRIES: setting({ default: "5000000", schema: integer(1000, 2_000_000_000) }),
  SLUICE_STATUS_MAX_BYTES: setting({ default: "2GB", schema: size("status index bucket limit; the least recently updated statuses go first") }),
  // Empty means host-pid: unique per process, stable for its life.
  SLUICE_NODE_ID: setting({
    default: "",
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,64}$/, "expected letters, digits, - and _")
      .transform((s) => s || `${hostname()}-${process.pid}`),
  }),
  SLUICE_LEASE_TTL: setting({ default: "15s", schema: duration("node lease lifetime; a crashed node's partitions move after it"), show: showDuration }),
  SLUICE_NODE_ROLES: setting({ default: "all", schema: nodeRoles, show: (v) => (v.length === NODE_ROLES.length ? "all" : v.join(",")) }),
  SLUICE_DKIM_KEYS: setting({ default: "", schema: optional, show: showOptional }),
  SLUICE_LIST_UNSUBSCRIBE: setting({ default: "", schema: optional, show: showOptional }),
  SLUICE_INLINE_PAYLOAD_MAX: setting({ default: "16KB", schema: size("largest payload carried inline in a single-use message") }),
  SLUICE_KEY_RATE: setting({ default: "0", schema: integer(0, 10_000_000) }),
  /** Recipients a gateway reserves at once from a tenant's cluster-wide daily quota (issue 16). */
  SLUICE_QUOTA_BLOCK: setting({ default: "100", schema: integer(1, 1_000_000) }),
  /** How often a node adds the reputation counts it read to the tenants' 24 h windows and judges them. */
  SLUICE_TENANT_HEALTH_FLUSH: setting({ default: "1s", schema: duration("how often tenant reputation counts are flushed"), show: showDuration }),
  SLUICE_OTLP_ENDPOINT: setting({ default: "", schema: optional, show: showOptional }),
  SLUICE_SMTP_TIMEOUT: setting({
    default: "60s",
    schema: duration("how long an SMTP peer may stay silent before the attempt fails and is retried"),
    show: showDuration,
  }),
  SLUICE_SHUTDOWN_TIMEOUT: setting({
    default: "90s",
    schema: duration("how long a clean shutdown may take (finishing SMTP sends, handing partitions over) before the process exits anyway"),
    show: showDuration,
  }),
  // Scheduling (issue 18): how far ahead sendAt may be; scheduled mail and its payload live this much longer.
  SLUICE_SCHEDULE_HORIZON: setting({ default: "30d", schema: duration("how far ahead sendAt may be"), show: showDuration }),
  // The reputation loop (issue 15): return path (VERP), inbound role, one-click unsubscribe.
  SLUICE_BOUNCE_DOMAIN: setting({
    default: "",
    schema: z
      .string()
      .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+)?$/i, "expected a domain name such as bounces.example.com")
      .transform((s) => s.toLowerCase() || undefined),
    show: showOptional,
  }),
  SLUICE_SECRET_KEY: setting({
    default: "",
    schema: z
      .string()
      .refine((s) => s === "" || s.length >= 16, "expected at least 16 characters (a random secret: openssl rand -base64 32)")
      .transform((s) => s || undefined),
    secret: true,
  }),
  SLUICE_PUBLIC_URL: setting({
    default: "",
    schema: z
      .string()
      .regex(/^(https?:\/\/[^\s/]+(\/[^\s]*)?)?$/, "expected the gateway's public base URL such as https://mail.example.com")
      .transform((s) => s.replace(/\/+$/, "") || undefined),
    show: showOptional,
  }),
  SLUICE_INBOUND_HOST: setting({ default: "0.0.0.0", schema: z.string().min(1) }),
  SLUICE_INBOUND_PORT: setting({ default: "2526", schema: integer(0, 65535) }),
  // NATS refuses a message above its max_payload (1 MB by default): the raw mail is one message.
  SLUICE_INBOUND_MAX_SIZE: setting({ default: "900KB", schema: size("largest inbound message (bounce, report) accepted; must fit a NATS message") }),
  SLUICE_INBOUND_RATE: setting({ default: "120", schema: integer(1, 1_000_000) }),
  // Sender domains (issue 14): DNS, verification, per-tenant DKIM keys. SLUICE_SECRET_KEY above
  // also seals tenants' DKIM private keys.
  /** DNS servers for MX lookups and domain verification (`127.0.0.1:5353,10.0.0.2`); empty = the system resolver. */
  SLUICE_DNS_SERVERS: setting({ default: "", schema: dnsServers, show: (v) => v.join(",") }),
  /** 403 domain_not_verified for a `from` domain the tenant has not verified; empty = by profile (production 1, local 0). */
  SLUICE_REQUIRE_VERIFIED_DOMAINS: setting({
    default: "",
    schema: z.union([z.literal("").transform(() => undefined), flag]),
    show: (v, e) => ((v ?? e.SLUICE_PROFILE === "production") ? "1" : "0"),
  }),
  /** SPF mechanisms tenants publish for Sluice's hosts (`_spf.example.net`, `ip4:203.0.113.5`); empty = a:<EHLO name>. */
  SLUICE_SPF_INCLUDE: setting({ default: "", schema: z.string().regex(/^[\w.:/,\s~+?-]*$/, "expected SPF mechanisms or host names"), show: (v, e) => spfOf(v, e.SLUICE_EHLO_NAME).join(",") }),
  /** The MX published for every `bounces.<domain>` (where the inbound role listens); empty = the EHLO name. */
  SLUICE_INBOUND_MX: setting({ default: "", schema: z.string().regex(/^[\w.-]*$/, "expected a host name"), show: (v, e) => v || e.SLUICE_EHLO_NAME }),
  /** How often nodes re-check every domain's records (a removed DKIM record turns a domain `failed`). */
  SLUICE_DOMAIN_RECHECK: setting({ default: "1h", schema: duration("how often verified domains' DNS records are checked again"), show: showDuration }),
  /** How long a rotated-out DKIM key stays published and valid after its successor is seen. */
  SLUICE_DKIM_ROTATION_GRACE: setting({ default: "48h", schema: duration("how long a rotated-out DKIM key stays valid"), show: showDuration }),
};

const spfOf = (include: string, ehloName: string): string[] => (include.trim() === "" ? [`a:${ehloName}`] : spfMechanisms(include));

/** Key used when the local profile has no SLUICE_SECRET_KEY: keys stay sealed, but not secret. */
export const LOCAL_INSECURE_SECRET_KEY = "sluice-local-profile-insecure-key";

export interface DomainsConfig {
  dnsServers: string[];
  /** undefined in production without SLUICE_SECRET_KEY: `sluice gateway|node|up` refuse to start. */
  secretKey: string | undefined;
  requireVerified: boolean;
  spf: string[];
  inboundHost: string;
  recheckMs: number;
  rotationGraceMs: number;
}

function domainsConfigOf(e: Env): DomainsConfig {
  return {
    dnsServers: e.SLUICE_DNS_SERVERS,
    secretKey: e.SLUICE_SECRET_KEY ?? (e.SLUICE_PROFILE === "local" ? LOCAL_INSECURE_SECRET_KEY : undefined),
    requireVerified: e.SLUICE_REQUIRE_VERIFIED_DOMAINS ?? e.SLUICE_PROFILE === "production",
    spf: spfOf(e.SLUICE_SPF_INCLUDE, e.SLUICE_EHLO_NAME),
    inboundHost: e.SLUICE_INBOUND_MX || e.SLUICE_EHLO_NAME,
    recheckMs: e.SLUICE_DOMAIN_RECHECK,
    rotationGraceMs: e.SLUICE_DKIM_ROTATION_GRACE,
  };
}

/**
 * `sluice gateway|node|up` in production refuse to start without SLUICE_SECRET_KEY: tenants'
 * DKIM keys would otherwise be stored unsealed or not at all.
 */
export function assertSecretKey(config: Config): void {
  if (config.domains.secretKey !== undefined) return;
  throw validationError(
    "secret_key_missing",
    "SLUICE_SECRET_KEY is not set: the production profile seals tenants' DKIM keys with it (generate one: openssl rand -base64 32; keep it, losing it loses the keys)",
    "SLUICE_SECRET_KEY",
  );
}

export type EnvName = keyof typeof SETTINGS;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
/** Every variable, parsed. */
export type Env = { [K in EnvName]: ValueOf<(typeof SETTINGS)[K]> };

const ENV_NAMES = Object.keys(SETTINGS) as EnvName[];
export const ENV_DEFAULTS = Object.fromEntries(ENV_NAMES.map((n) => [n, SETTINGS[n].default])) as Record<EnvName, string>;
/** Variables whose value is a secret: printed masked by `sluice config`. */
export const SECRET_ENV: readonly EnvName[] = ENV_NAMES.filter((n) => (SETTINGS[n] as Setting<unknown>).secret === true);



export interface Config {
  /** Every variable as parsed (what `describeConfig` prints); the fields below are the names the code uses. */
  settings: Env;
  nats: { servers: string[]; token: string | undefined; creds: string | undefined };
  profile: "local" | "production";
  http: { host: string; port: number };
  metricsPort: number;
  partitions: number;
  replicas: number;
  routes: Env["SLUICE_ROUTES"];
  policiesFile: string | undefined;
  retry: { scheduleMs: number[]; maxAgeMs: number; jitter: number };
  ackWaitMs: number;
  maxAckPending: number;
  /** A slow destination's overflow is parked on MAIL_PARKED (1) rather than handed back with nak(delay) (0). */
  parkOverflow: boolean;
  limits: { sendStreamBytes: number; maxMessageBytes: number; maxBatchBytes: number };
  retention: { eventsMs: number; dlqMs: number; duplicateWindowMs: number };
  ehloName: string;
  dataDir: string;
  capturePort: number;
  logLevel: Env["SLUICE_LOG_LEVEL"];
  webhookAllowPrivate: boolean;
  webhooks: { maxAgeMs: number; concurrency: number };
  /** Bounds of the message status index (KV sluice_status); oldest-updated entries are evicted first. */
  statusIndex: { maxEntries: number; maxBytes: number };
  /** Stable name of this process in the cluster; defaults to host-pid. */
  nodeId: string;
  leaseTtlMs: number;
  /** What `sluice node` runs: delivery (a cluster member owning partitions) and/or the event services. */
  nodeRoles: NodeRole[];
  /** DKIM keys file (JSON: {"domain": {"selector", "privateKeyFile"}}), empty for none. */
  dkimKeysFile: string | undefined;
  /** List-Unsubscribe URL template for bulk mail ({{id}} is the recipient id), empty for none (a client's own List-Unsubscribe header is kept). */
  listUnsubscribe: string | undefined;
  inlinePayloadMaxBytes: number;
  /** Default requests per second per API key (0 = unlimited); a key may carry its own. */
  keyRatePerSecond: number;
  quotaBlock: number;
  tenantHealthFlushMs: number;
  /** OTLP/HTTP traces endpoint; empty = tracing export off. */
  otlpEndpoint: string | undefined;
  /** SMTP socket timeout: a peer silent this long fails the attempt (retried later). */
  smtpTimeoutMs: number;
  /** A clean shutdown taking longer than this (NATS gone, a peer hanging) ends in exit 1 anyway. */
  shutdownTimeoutMs: number;
  /** Domain of the VERP envelope sender (b-<id>-<tenant>-<mac>@<bounce domain>); undefined = the From address, as before. */
  bounceDomain: string | undefined;
  /** HMAC secret of VERP addresses and unsubscribe tokens (also the key-encryption secret of sender domains). */
  secretKey: string | undefined;
  /** Gateway base URL for one-click unsubscribe links in bulk mail; undefined = no links. */
  publicUrl: string | undefined;
  /** The inbound SMTP server (node role `inbound`): where bounces and feedback reports arrive. */
  inbound: { host: string; port: number; maxMessageBytes: number; messagesPerMinute: number };
  /** Sender domains: resolver, key sealing, the verified-sender rule, record settings. */
  domains: DomainsConfig;
  /** Scheduling: how far ahead sendAt may be. */
  schedule: { horizonMs: number };
}

/** Parse every variable; throws one validation error listing each bad variable by name. */
function parseEnv(env: Record<string, string | undefined>, overrides: Partial<Record<EnvName, string>>): Env {
  const parsed: Record<string, unknown> = {};
  const problems: { name: EnvName; message: string }[] = [];
  for (const name of ENV_NAMES) {
    const result = (SETTINGS[name] as Setting<unknown>).schema.safeParse(overrides[name] ?? env[name] ?? ENV_DEFAULTS[name]);
    if (result.success) parsed[name] = result.data;
    else for (const issue of result.error.issues) problems.push({ name, message: issue.message });
  }
  if (problems.length === 0) problems.push(...crossChecks(parsed as Env));
  if (problems.length > 0) {
    const lines = problems.map((p) => `${p.name}: ${p.message}`);
    throw validationError("invalid_config", `invalid configuration:\n  ${lines.join("\n  ")}`, problems[0]?.name);
  }
  return parsed as Env;
}

/** Rules between variables. */
function crossChecks(e: Env): { name: EnvName; message: string }[] {
  if ((e.SLUICE_BOUNCE_DOMAIN !== undefined || e.SLUICE_PUBLIC_URL !== undefined) && e.SLUICE_SECRET_KEY === undefined) {
    const name = e.SLUICE_BOUNCE_DOMAIN !== undefined ? "SLUICE_BOUNCE_DOMAIN" : "SLUICE_PUBLIC_URL";
    return [{ name: "SLUICE_SECRET_KEY", message: `${name} needs SLUICE_SECRET_KEY (VERP addresses and unsubscribe links are signed with it)` }];
  }
  return [];
}

/** Build the configuration from environment variables; throws a validation error naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<EnvName, string>> = {}): Config {
  return configOf(parseEnv(env, overrides));
}

/** The names the code uses for the parsed variables. */
function configOf(e: Env): Config {
  return {
    settings: e,
    nats: { servers: e.NATS_URL, token: e.NATS_TOKEN, creds: e.NATS_CREDS },
    profile: e.SLUICE_PROFILE,
    http: { host: e.SLUICE_HTTP_HOST, port: e.SLUICE_HTTP_PORT },
    metricsPort: e.SLUICE_METRICS_PORT,
    partitions: e.SLUICE_PARTITIONS,
    replicas: e.SLUICE_REPLICAS,
    routes: e.SLUICE_ROUTES,
    policiesFile: e.SLUICE_POLICIES,
    retry: { scheduleMs: e.SLUICE_RETRY_SCHEDULE, maxAgeMs: e.SLUICE_MAX_AGE, jitter: e.SLUICE_RETRY_JITTER },
    ackWaitMs: e.SLUICE_ACK_WAIT,
    maxAckPending: e.SLUICE_MAX_ACK_PENDING,
    parkOverflow: e.SLUICE_PARK_OVERFLOW,
    limits: { sendStreamBytes: e.SLUICE_SEND_MAX_BYTES, maxMessageBytes: e.SLUICE_MAX_MESSAGE_SIZE, maxBatchBytes: e.SLUICE_MAX_BATCH_SIZE },
    retention: { eventsMs: e.SLUICE_EVENTS_MAX_AGE, dlqMs: e.SLUICE_DLQ_MAX_AGE, duplicateWindowMs: e.SLUICE_DUPLICATE_WINDOW },
    ehloName: e.SLUICE_EHLO_NAME,
    dataDir: e.SLUICE_DATA_DIR,
    capturePort: e.SLUICE_CAPTURE_PORT,
    logLevel: e.SLUICE_LOG_LEVEL,
    webhookAllowPrivate: e.SLUICE_WEBHOOK_ALLOW_PRIVATE,
    webhooks: { maxAgeMs: e.SLUICE_WEBHOOK_MAX_AGE, concurrency: e.SLUICE_WEBHOOK_CONCURRENCY },
    statusIndex: { maxEntries: e.SLUICE_STATUS_MAX_ENTRIES, maxBytes: e.SLUICE_STATUS_MAX_BYTES },
    nodeId: e.SLUICE_NODE_ID,
    leaseTtlMs: e.SLUICE_LEASE_TTL,
    nodeRoles: e.SLUICE_NODE_ROLES,
    dkimKeysFile: e.SLUICE_DKIM_KEYS,
    listUnsubscribe: e.SLUICE_LIST_UNSUBSCRIBE,
    inlinePayloadMaxBytes: e.SLUICE_INLINE_PAYLOAD_MAX,
    keyRatePerSecond: e.SLUICE_KEY_RATE,
    quotaBlock: e.SLUICE_QUOTA_BLOCK,
    tenantHealthFlushMs: e.SLUICE_TENANT_HEALTH_FLUSH,
    otlpEndpoint: e.SLUICE_OTLP_ENDPOINT,
    smtpTimeoutMs: e.SLUICE_SMTP_TIMEOUT,
    shutdownTimeoutMs: e.SLUICE_SHUTDOWN_TIMEOUT,
    bounceDomain: e.SLUICE_BOUNCE_DOMAIN,
    secretKey: e.SLUICE_SECRET_KEY,
    publicUrl: e.SLUICE_PUBLIC_URL,
    inbound: { host: e.SLUICE_INBOUND_HOST, port: e.SLUICE_INBOUND_PORT, maxMessageBytes: e.SLUICE_INBOUND_MAX_SIZE, messagesPerMinute: e.SLUICE_INBOUND_RATE },
    domains: domainsConfigOf(e),
    schedule: { horizonMs: e.SLUICE_SCHEDULE_HORIZON },
  };
}

/** The effective configuration as `NAME=value` lines, secrets masked, for `sluice config`. */
export function describeConfig(config: Config): string[] {
  return ENV_NAMES.map((name) => {
    const s = SETTINGS[name] as Setting<unknown>;
    const value = config.settings[name];
    if (s.secret) return `${name}=${value ? "****" : ""}`;
    return `${name}=${s.show ? s.show(value, config.settings) : String(value)}`;
  });
}
