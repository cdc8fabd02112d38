import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Kvm } from "@nats-io/kv";
import {
  check,
  CreateDomainRequest,
  domainView,
  KV_BUCKETS,
  loadConfig,
  SenderDomain,
  validationError,
  type DomainView,
} from "../../protocol/index.ts";
import {
  addDomain,
  connectNats,
  dnsResolver,
  getDomain,
  listDomains,
  removeDomain,
  rotateDkim,
  topologyFor,
  topologyOptionsFrom,
  verifyDomain,
  type DomainServiceDeps,
} from "../../protocol/io/index.ts";

export const help = `sluice domains add <domain> --tenant <t> [--key <private.pem> [--selector <s>]]
sluice domains list [--tenant <t>]
sluice domains show <domain> --tenant <t>
sluice domains verify <domain> --tenant <t>
sluice domains rotate <domain> --tenant <t>
sluice domains rm <domain> --tenant <t>

Sender domains of a tenant (the same as /v1/domains, straight on NATS). 'add' prints the DNS
records to publish — DKIM (an RSA 2048 key Sluice generates, or --key to bring your own),
SPF (SLUICE_SPF_INCLUDE), DMARC and the return-path MX of bounces.<domain>
(SLUICE_INBOUND_MX) — as zone-file lines. 'verify' looks them up now (through
SLUICE_DNS_SERVERS, else the system resolver); a domain is verified once its DKIM record
carries the key. 'list' shows each domain's state and which records are missing. 'rotate'
adds a new DKIM selector: publish it, verify, and the old one retires after
SLUICE_DKIM_ROTATION_GRACE. Keys are sealed with SLUICE_SECRET_KEY. --json prints JSON.`;

export async function run(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { tenant: { type: "string" }, key: { type: "string" }, selector: { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
  });
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-domains", { waitOnFirstConnect: false });
  try {
    const spec = topologyFor(topologyOptionsFrom(config)).kv.find((k) => k.name === KV_BUCKETS.domains);
    const kv = await new Kvm(nc).create(KV_BUCKETS.domains, spec?.options);
    const d = config.domains;
    const deps: DomainServiceDeps = { kv, dns: dnsResolver(d.dnsServers), settings: { secretKey: d.secretKey, spf: d.spf, inboundHost: d.inboundHost, rotationGraceMs: d.rotationGraceMs } };
    const out = (v: DomainView): void => {
      process.stdout.write(values.json ? `${JSON.stringify(v, null, 2)}\n` : describe(v));
    };
    const tenant = (): string => {
      if (values.tenant === undefined) throw validationError("missing_tenant", "--tenant <name> is required", "tenant");
      return values.tenant;
    };
    const domain = (): string => {
      const parsed = check(SenderDomain, positionals[0] ?? "", "domain");
      if (!parsed.ok) throw validationError("usage", `usage: sluice domains ${sub ?? ""} <domain> --tenant <name>`, "domain");
      return parsed.value;
    };
    switch (sub) {
      case "add": {
        const body = { domain: positionals[0] ?? "", ...(values.key === undefined ? {} : { dkim: { privateKey: readFileSync(values.key, "utf8"), ...(values.selector ? { selector: values.selector } : {}) } }) };
        const req = check(CreateDomainRequest, body, "domain request");
        if (!req.ok) throw req.error;
        return out(domainView(await addDomain(deps, tenant(), req.value), d));
      }
      case "list": {
        const list = await listDomains(kv, values.tenant);
        if (values.json) return void process.stdout.write(`${JSON.stringify(list.map((e) => ({ tenant: e.tenant, ...domainView(e, d) })), null, 2)}\n`);
        process.stdout.write(`${"DOMAIN".padEnd(32)}${"TENANT".padEnd(16)}${"STATUS".padEnd(10)}${"SELECTOR".padEnd(18)}MISSING\n`);
        for (const e of list) {
          const v = domainView(e, d);
          process.stdout.write(`${v.domain.padEnd(32)}${e.tenant.padEnd(16)}${v.status.padEnd(10)}${(v.selector ?? "-").padEnd(18)}${v.missing.join(",") || "-"}\n`);
        }
        return;
      }
      case "show":
        return out(domainView(await getDomain(kv, tenant(), domain()), d));
      case "verify":
        return out(domainView((await verifyDomain(deps, tenant(), domain())).entry, d));
      case "rotate":
        return out(domainView(await rotateDkim(deps, tenant(), domain()), d));
      case "rm": {
        const name = domain();
        await removeDomain(kv, tenant(), name);
        process.stdout.write(`removed ${name}\n`);
        return;
      }
      default:
        throw validationError("usage", "usage: sluice domains add|list|show|verify|rotate|rm (see 'sluice domains --help')");
    }
  } finally {
    await nc.close();
  }
}

/** A domain for a person: its state, then each record with what was found, as zone-file lines to copy. */
function describe(v: DomainView): string {
  const lines = [`${v.domain}: ${v.status}${v.reason ? ` (${v.reason})` : ""}; DKIM selector ${v.selector ?? "-"}`, "", "Publish these records:"];
  for (const r of v.records) {
    lines.push(`  [${r.status}] ${r.purpose}${r.required ? " (required)" : ""}${r.problem ? `: ${r.problem}` : ""}`);
    lines.push(`    ${r.zone}`);
  }
  return `${lines.join("\n")}\n`;
}
