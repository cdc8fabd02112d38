import type { Policy, PolicyOverride } from "../../protocol/index.ts";

/**
 * Conservative defaults for an unknown destination: a small sender that behaves like this
 * is rarely greylisted. Operators raise them per domain once they know their reputation.
 */
export const DEFAULT_POLICY: Policy = {
  messagesPerSecond: 5,
  burst: 10,
  maxConnections: 2,
  maxMessagesPerConnection: 100,
  requireTLS: false,
  suspendAfterFailures: 5,
  suspendSeconds: 60,
};

/**
 * What the big mailbox providers tolerate from a sender with a fair reputation (public
 * postmaster guidance and common MTA defaults). Keyed by MX group, so every domain hosted
 * there (Google Workspace customers, Microsoft 365 tenants) shares the same budget.
 */
export const BUILTIN_GROUP_POLICIES: Record<string, PolicyOverride> = {
  "mx:google": { messagesPerSecond: 50, burst: 100, maxConnections: 10, maxMessagesPerConnection: 100 },
  "mx:microsoft": { messagesPerSecond: 20, burst: 40, maxConnections: 5, maxMessagesPerConnection: 30 },
  "mx:yahoo": { messagesPerSecond: 20, burst: 40, maxConnections: 5, maxMessagesPerConnection: 20 },
  "mx:apple": { messagesPerSecond: 10, burst: 20, maxConnections: 5, maxMessagesPerConnection: 50 },
  "mx:gmx": { messagesPerSecond: 10, burst: 20, maxConnections: 3, maxMessagesPerConnection: 50 },
  "mx:yandex": { messagesPerSecond: 10, burst: 20, maxConnections: 3, maxMessagesPerConnection: 50 },
  "mx:mailru": { messagesPerSecond: 10, burst: 20, maxConnections: 3, maxMessagesPerConnection: 50 },
  "mx:proofpoint": { messagesPerSecond: 10, burst: 20, maxConnections: 3, maxMessagesPerConnection: 50 },
  "mx:mimecast": { messagesPerSecond: 10, burst: 20, maxConnections: 3, maxMessagesPerConnection: 50 },
  // The mailbox simulator (actors/simulator): no network behind it, so no reason to be shy;
  // still a budget of its own, so a demo flood of simulated mail cannot starve real mail.
  "simulator.invalid": { messagesPerSecond: 500, burst: 500, maxConnections: 50, maxMessagesPerConnection: 1000 },
};

/** Consumer mailbox domains and their provider, so the table applies before any MX lookup. */
export const BUILTIN_DOMAIN_GROUPS: Record<string, string> = {
  "gmail.com": "mx:google",
  "googlemail.com": "mx:google",
  "outlook.com": "mx:microsoft",
  "hotmail.com": "mx:microsoft",
  "live.com": "mx:microsoft",
  "msn.com": "mx:microsoft",
  "hotmail.co.uk": "mx:microsoft",
  "yahoo.com": "mx:yahoo",
  "ymail.com": "mx:yahoo",
  "rocketmail.com": "mx:yahoo",
  "aol.com": "mx:yahoo",
  "yahoo.co.uk": "mx:yahoo",
  "icloud.com": "mx:apple",
  "me.com": "mx:apple",
  "mac.com": "mx:apple",
  "gmx.net": "mx:gmx",
  "gmx.de": "mx:gmx",
  "web.de": "mx:gmx",
  "yandex.ru": "mx:yandex",
  "mail.ru": "mx:mailru",
};

/** MX host suffix → provider group. Order matters only for readability. */
export const MX_PROVIDERS: readonly [suffix: string, group: string][] = [
  [".google.com", "mx:google"],
  [".googlemail.com", "mx:google"],
  [".protection.outlook.com", "mx:microsoft"],
  [".outlook.com", "mx:microsoft"],
  [".hotmail.com", "mx:microsoft"],
  [".yahoodns.net", "mx:yahoo"],
  [".mail.icloud.com", "mx:apple"],
  [".gmx.net", "mx:gmx"],
  [".web.de", "mx:gmx"],
  [".yandex.net", "mx:yandex"],
  [".yandex.ru", "mx:yandex"],
  [".mail.ru", "mx:mailru"],
  [".pphosted.com", "mx:proofpoint"],
  [".mimecast.com", "mx:mimecast"],
];

/** The provider group of an MX host, if it is a known one. */
export function providerOfMx(host: string): string | undefined {
  const h = "." + host.toLowerCase().replace(/\.$/, "");
  for (const [suffix, group] of MX_PROVIDERS) if (h.endsWith(suffix)) return group;
  return undefined;
}
