import { hostname } from "node:os";
import { z } from "zod";
import { validationError } from "./errors.ts";
import { describeRoute, parseRoutes } from "./routes.ts";
import { formatDuration, parseDuration, parseSize } from "./units.ts";

/**
 * Every setting comes from one environment variable; the schema below is keyed by the
 * variable's name so that a bad value fails fast with a message naming it.
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
export const NODE_ROLES = ["delivery", "fanout", "dead-letterer", "events", "webhooks", "scheduler"] as const;
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

export const ENV_DEFAULTS = {
  NATS_URL: "nats://127.0.0.1:4222",
  NATS_TOKEN: "",
  NATS_CREDS: "",
  SLUICE_PROFILE: "production",
  SLUICE_HTTP_HOST: "0.0.0.0",
  SLUICE_HTTP_PORT: "8080",
  SLUICE_METRICS_PORT: "9464",
  SLUICE_PARTITIONS: "32",
  SLUICE_REPLICAS: "1",
  SLUICE_ROUTES: "",
  SLUICE_POLICIES: "",
  SLUICE_RETRY_SCHEDULE: "1m,5m,15m,30m,1h,2h,4h,8h",
  SLUICE_MAX_AGE: "72h",
  SLUICE_RETRY_JITTER: "0.2",
  SLUICE_ACK_WAIT: "60s",
  SLUICE_MAX_ACK_PENDING: "1000000",
  SLUICE_SEND_MAX_BYTES: "0",
  SLUICE_EVENTS_MAX_AGE: "7d",
  SLUICE_DLQ_MAX_AGE: "30d",
  SLUICE_DUPLICATE_WINDOW: "2m",
  SLUICE_MAX_MESSAGE_SIZE: "10MB",
  SLUICE_MAX_BATCH_SIZE: "50MB",
  SLUICE_EHLO_NAME: "",
  SLUICE_DATA_DIR: ".data",
  SLUICE_CAPTURE_PORT: "2525",
  SLUICE_LOG_LEVEL: "info",
  SLUICE_WEBHOOK_ALLOW_PRIVATE: "0",
  SLUICE_WEBHOOK_MAX_AGE: "24h",
  SLUICE_WEBHOOK_CONCURRENCY: "4",
  SLUICE_STATUS_MAX_ENTRIES: "5000000",
  SLUICE_STATUS_MAX_BYTES: "2GB",
  SLUICE_NODE_ID: "",
  SLUICE_LEASE_TTL: "15s",
  SLUICE_NODE_ROLES: "all",
  SLUICE_DKIM_KEYS: "",
  SLUICE_LIST_UNSUBSCRIBE: "",
  SLUICE_INLINE_PAYLOAD_MAX: "16KB",
  SLUICE_KEY_RATE: "0",
  SLUICE_OTLP_ENDPOINT: "",
  SLUICE_SMTP_TIMEOUT: "60s",
  SLUICE_SCHEDULE_HORIZON: "30d",
} as const;

export type EnvName = keyof typeof ENV_DEFAULTS;

/** Variables whose value is a secret: printed masked by `sluice config`. */
export const SECRET_ENV: readonly EnvName[] = ["NATS_TOKEN"];

const EnvSchema = z.object({
  NATS_URL: natsUrls,
  NATS_TOKEN: z.string(),
  NATS_CREDS: z.string(),
  SLUICE_PROFILE: z.enum(["local", "production"], { message: 'expected "local" or "production"' }),
  SLUICE_HTTP_HOST: z.string().min(1),
  SLUICE_HTTP_PORT: integer(0, 65535),
  SLUICE_METRICS_PORT: integer(0, 65535),
  SLUICE_PARTITIONS: integer(1, 1024),
  SLUICE_REPLICAS: integer(1, 5),
  SLUICE_ROUTES: routes,
  SLUICE_POLICIES: z.string(),
  SLUICE_RETRY_SCHEDULE: schedule,
  SLUICE_MAX_AGE: duration("how long a message is retried"),
  SLUICE_RETRY_JITTER: z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!(n >= 0 && n <= 1) || s.trim() === "") {
      ctx.addIssue({ code: "custom", message: `expected a fraction from 0 to 1, got "${s}"` });
      return z.NEVER;
    }
    return n;
  }),
  SLUICE_ACK_WAIT: duration("how long a node may hold a message before JetStream redelivers it"),
  SLUICE_MAX_ACK_PENDING: integer(1, 10_000_000),
  SLUICE_SEND_MAX_BYTES: size("MAIL_SEND stream limit, 0 for only the server's limit; a full stream answers 503"),
  SLUICE_EVENTS_MAX_AGE: duration("how long events are kept"),
  SLUICE_DLQ_MAX_AGE: duration("how long dead letters are kept"),
  SLUICE_DUPLICATE_WINDOW: duration("JetStream de-duplication window"),
  SLUICE_MAX_MESSAGE_SIZE: size("largest accepted message"),
  SLUICE_MAX_BATCH_SIZE: size("largest accepted batch request"),
  SLUICE_EHLO_NAME: z.string(),
  SLUICE_DATA_DIR: z.string().min(1),
  SLUICE_CAPTURE_PORT: integer(0, 65535),
  SLUICE_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  SLUICE_WEBHOOK_ALLOW_PRIVATE: flag,
  SLUICE_WEBHOOK_MAX_AGE: duration("how long a webhook delivery is retried"),
  SLUICE_WEBHOOK_CONCURRENCY: integer(1, 1000),
  SLUICE_STATUS_MAX_ENTRIES: integer(1000, 2_000_000_000),
  SLUICE_STATUS_MAX_BYTES: size("status index bucket limit; the least recently updated statuses go first"),
  SLUICE_NODE_ID: z.string().regex(/^[A-Za-z0-9_-]{0,64}$/, "expected letters, digits, - and _"),
  SLUICE_LEASE_TTL: duration("node lease lifetime; a crashed node's partitions move after it"),
  SLUICE_NODE_ROLES: nodeRoles,
  SLUICE_DKIM_KEYS: z.string(),
  SLUICE_LIST_UNSUBSCRIBE: z.string(),
  SLUICE_INLINE_PAYLOAD_MAX: size("largest payload carried inline in a single-use message"),
  SLUICE_KEY_RATE: integer(0, 10_000_000),
  SLUICE_OTLP_ENDPOINT: z.string(),
  SLUICE_SMTP_TIMEOUT: duration("how long an SMTP peer may stay silent before the attempt fails and is retried"),
  SLUICE_SCHEDULE_HORIZON: duration("how far ahead sendAt may be"),
});

type Env = z.output<typeof EnvSchema>;

export interface Config {
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
  /** OTLP/HTTP traces endpoint; empty = tracing export off. */
  otlpEndpoint: string | undefined;
  /** SMTP socket timeout: a peer silent this long fails the attempt (retried later). */
  smtpTimeoutMs: number;
  /** Scheduling: how far ahead sendAt may be. */
  schedule: { horizonMs: number };
}

/** Build the configuration from environment variables; throws a validation error naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<EnvName, string>> = {}): Config {
  const raw: Record<string, string> = {};
  for (const name of Object.keys(ENV_DEFAULTS) as EnvName[]) {
    raw[name] = overrides[name] ?? env[name] ?? ENV_DEFAULTS[name];
  }
  const parsed = EnvSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw validationError("invalid_config", `invalid configuration:\n  ${lines.join("\n  ")}`, String(parsed.error.issues[0]?.path[0]));
  }
  const e = parsed.data;
  return {
    nats: { servers: e.NATS_URL, token: e.NATS_TOKEN || undefined, creds: e.NATS_CREDS || undefined },
    profile: e.SLUICE_PROFILE,
    http: { host: e.SLUICE_HTTP_HOST, port: e.SLUICE_HTTP_PORT },
    metricsPort: e.SLUICE_METRICS_PORT,
    partitions: e.SLUICE_PARTITIONS,
    replicas: e.SLUICE_REPLICAS,
    routes: e.SLUICE_ROUTES,
    policiesFile: e.SLUICE_POLICIES || undefined,
    retry: { scheduleMs: e.SLUICE_RETRY_SCHEDULE, maxAgeMs: e.SLUICE_MAX_AGE, jitter: e.SLUICE_RETRY_JITTER },
    ackWaitMs: e.SLUICE_ACK_WAIT,
    maxAckPending: e.SLUICE_MAX_ACK_PENDING,
    limits: {
      sendStreamBytes: e.SLUICE_SEND_MAX_BYTES,
      maxMessageBytes: e.SLUICE_MAX_MESSAGE_SIZE,
      maxBatchBytes: e.SLUICE_MAX_BATCH_SIZE,
    },
    retention: { eventsMs: e.SLUICE_EVENTS_MAX_AGE, dlqMs: e.SLUICE_DLQ_MAX_AGE, duplicateWindowMs: e.SLUICE_DUPLICATE_WINDOW },
    ehloName: e.SLUICE_EHLO_NAME || hostname(),
    dataDir: e.SLUICE_DATA_DIR,
    capturePort: e.SLUICE_CAPTURE_PORT,
    logLevel: e.SLUICE_LOG_LEVEL,
    webhookAllowPrivate: e.SLUICE_WEBHOOK_ALLOW_PRIVATE,
    webhooks: { maxAgeMs: e.SLUICE_WEBHOOK_MAX_AGE, concurrency: e.SLUICE_WEBHOOK_CONCURRENCY },
    statusIndex: { maxEntries: e.SLUICE_STATUS_MAX_ENTRIES, maxBytes: e.SLUICE_STATUS_MAX_BYTES },
    nodeId: e.SLUICE_NODE_ID || `${hostname()}-${process.pid}`,
    leaseTtlMs: e.SLUICE_LEASE_TTL,
    nodeRoles: e.SLUICE_NODE_ROLES,
    dkimKeysFile: e.SLUICE_DKIM_KEYS || undefined,
    listUnsubscribe: e.SLUICE_LIST_UNSUBSCRIBE || undefined,
    inlinePayloadMaxBytes: e.SLUICE_INLINE_PAYLOAD_MAX,
    keyRatePerSecond: e.SLUICE_KEY_RATE,
    otlpEndpoint: e.SLUICE_OTLP_ENDPOINT || undefined,
    smtpTimeoutMs: e.SLUICE_SMTP_TIMEOUT,
    schedule: { horizonMs: e.SLUICE_SCHEDULE_HORIZON },
  };
}

/** The effective configuration as `NAME=value` lines, secrets masked, for `sluice config`. */
export function describeConfig(config: Config): string[] {
  const mask = (s: string | undefined) => (s ? "****" : "");
  const maskUrl = (u: string) => u.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:****@");
  return [
    `NATS_URL=${config.nats.servers.map(maskUrl).join(",")}`,
    `NATS_TOKEN=${mask(config.nats.token)}`,
    `NATS_CREDS=${config.nats.creds ?? ""}`,
    `SLUICE_PROFILE=${config.profile}`,
    `SLUICE_HTTP_HOST=${config.http.host}`,
    `SLUICE_HTTP_PORT=${config.http.port}`,
    `SLUICE_METRICS_PORT=${config.metricsPort}`,
    `SLUICE_PARTITIONS=${config.partitions}`,
    `SLUICE_REPLICAS=${config.replicas}`,
    `SLUICE_ROUTES=${config.routes.map((r) => describeRoute(r)).join(",")}`,
    `SLUICE_POLICIES=${config.policiesFile ?? ""}`,
    `SLUICE_RETRY_SCHEDULE=${config.retry.scheduleMs.map(formatDuration).join(",")}`,
    `SLUICE_MAX_AGE=${formatDuration(config.retry.maxAgeMs)}`,
    `SLUICE_RETRY_JITTER=${config.retry.jitter}`,
    `SLUICE_ACK_WAIT=${formatDuration(config.ackWaitMs)}`,
    `SLUICE_MAX_ACK_PENDING=${config.maxAckPending}`,
    `SLUICE_SEND_MAX_BYTES=${config.limits.sendStreamBytes}`,
    `SLUICE_EVENTS_MAX_AGE=${formatDuration(config.retention.eventsMs)}`,
    `SLUICE_DLQ_MAX_AGE=${formatDuration(config.retention.dlqMs)}`,
    `SLUICE_DUPLICATE_WINDOW=${formatDuration(config.retention.duplicateWindowMs)}`,
    `SLUICE_MAX_MESSAGE_SIZE=${config.limits.maxMessageBytes}`,
    `SLUICE_MAX_BATCH_SIZE=${config.limits.maxBatchBytes}`,
    `SLUICE_EHLO_NAME=${config.ehloName}`,
    `SLUICE_DATA_DIR=${config.dataDir}`,
    `SLUICE_CAPTURE_PORT=${config.capturePort}`,
    `SLUICE_LOG_LEVEL=${config.logLevel}`,
    `SLUICE_WEBHOOK_ALLOW_PRIVATE=${config.webhookAllowPrivate ? 1 : 0}`,
    `SLUICE_WEBHOOK_MAX_AGE=${formatDuration(config.webhooks.maxAgeMs)}`,
    `SLUICE_WEBHOOK_CONCURRENCY=${config.webhooks.concurrency}`,
    `SLUICE_STATUS_MAX_ENTRIES=${config.statusIndex.maxEntries}`,
    `SLUICE_STATUS_MAX_BYTES=${config.statusIndex.maxBytes}`,
    `SLUICE_NODE_ID=${config.nodeId}`,
    `SLUICE_LEASE_TTL=${formatDuration(config.leaseTtlMs)}`,
    `SLUICE_NODE_ROLES=${config.nodeRoles.length === NODE_ROLES.length ? "all" : config.nodeRoles.join(",")}`,
    `SLUICE_DKIM_KEYS=${config.dkimKeysFile ?? ""}`,
    `SLUICE_LIST_UNSUBSCRIBE=${config.listUnsubscribe ?? ""}`,
    `SLUICE_INLINE_PAYLOAD_MAX=${config.inlinePayloadMaxBytes}`,
    `SLUICE_KEY_RATE=${config.keyRatePerSecond}`,
    `SLUICE_OTLP_ENDPOINT=${config.otlpEndpoint ?? ""}`,
    `SLUICE_SMTP_TIMEOUT=${formatDuration(config.smtpTimeoutMs)}`,
    `SLUICE_SCHEDULE_HORIZON=${formatDuration(config.schedule.horizonMs)}`,
  ];
}
