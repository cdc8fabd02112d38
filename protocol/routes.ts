import { normalizeDomain } from "./domain.ts";

/**
 * Static routes override MX lookup: `example.com=127.0.0.1:2525,*.corp.test=mx.corp:25,
 * *=smtp://user:pass@relay.example:587`. Used by tests, by the local capture profile
 * and by people relaying through a smarthost.
 */
export interface Route {
  /** `example.com`, `*.example.com` (any subdomain) or `*` (everything else). */
  pattern: string;
  host: string;
  port: number;
  /** Implicit TLS (smtps://); otherwise opportunistic STARTTLS. */
  secure: boolean;
  auth?: { user: string; pass: string };
}

export function parseRoutes(text: string): { routes: Route[] } | { error: string } {
  const routes: Route[] = [];
  for (const raw of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = raw.indexOf("=");
    if (eq <= 0) return { error: `route "${raw}" is not pattern=host:port` };
    const pattern = raw.slice(0, eq).trim().toLowerCase();
    const target = raw.slice(eq + 1).trim();
    if (pattern !== "*") {
      const bare = pattern.startsWith("*.") ? pattern.slice(2) : pattern;
      if (normalizeDomain(bare) === undefined) return { error: `route pattern "${pattern}" is not a domain, *.domain or *` };
    }
    const url = /^smtps?:\/\//.test(target) ? safeUrl(target) : safeUrl(`smtp://${target}`);
    if (url === undefined || url.hostname === "") return { error: `route target "${target}" is not host:port or smtp[s]://[user:pass@]host:port` };
    const secure = url.protocol === "smtps:";
    const port = url.port === "" ? (secure ? 465 : 25) : Number(url.port);
    const route: Route = { pattern, host: url.hostname.replace(/^\[|\]$/g, ""), port, secure };
    if (url.username !== "") route.auth = { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
    routes.push(route);
  }
  return { routes };
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** The most specific route for a domain: exact, then the longest `*.suffix`, then `*`. */
export function routeFor(routes: readonly Route[], domain: string): Route | undefined {
  let best: Route | undefined;
  let bestScore = -1;
  for (const route of routes) {
    let score = -1;
    if (route.pattern === domain) score = 10_000;
    else if (route.pattern.startsWith("*.") && domain.endsWith(route.pattern.slice(1))) score = route.pattern.length;
    else if (route.pattern === "*") score = 0;
    if (score > bestScore) {
      best = route;
      bestScore = score;
    }
  }
  return best;
}

export function describeRoute(route: Route, maskSecrets = true): string {
  const auth = route.auth ? `${route.auth.user}:${maskSecrets ? "****" : route.auth.pass}@` : "";
  return `${route.pattern}=${route.secure ? "smtps" : "smtp"}://${auth}${route.host}:${route.port}`;
}

/**
 * The local profile's promise: nothing leaves the machine unless a route says so. The
 * capture server is the catch-all (`*`) unless the operator's routes already carry one,
 * so `SLUICE_ROUTES='dead.test=127.0.0.1:1'` adds a route instead of turning MX lookups on
 * for every other domain.
 */
export function withCatchAll(routes: readonly Route[], host: string, port: number): Route[] {
  if (routes.some((r) => r.pattern === "*")) return [...routes];
  return [...routes, { pattern: "*", host, port, secure: false }];
}
