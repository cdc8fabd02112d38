import { parseArgs } from "node:util";
import { Kvm } from "@nats-io/kv";
import { KV_BUCKETS, loadConfig, parseScopes, validationError } from "../../protocol/index.ts";
import {
  connectNats,
  createApiKey,
  listApiKeys,
  revokeApiKey,
  topologyFor,
  topologyOptionsFrom,
} from "../../protocol/io/index.ts";

export const help = `sluice keys create --tenant <name> [--scopes send,read,admin] [--rate <per second>] [--operator]
sluice keys list [--tenant <name>]
sluice keys revoke <key-id>

API keys for the HTTP gateway (Authorization: Bearer <key>). 'create' prints the new key
alone on the last line of its output, once: only its SHA-256 is stored (KV ${KV_BUCKETS.keys}).
Scopes: send (POST mail), read (GET status), admin (everything). Default: send,read.
--rate overrides SLUICE_KEY_RATE for this key (0 = unlimited). A key sees its own tenant
only; --operator makes an operator key, which also sees cluster-wide figures of every
tenant (GET /v1/stats, the dashboard; ?tenant=<name> narrows them to one). 'list' shows key ids,
never keys; 'revoke' takes a key id from 'list' (takes effect within a few seconds).`;

export async function run(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { tenant: { type: "string" }, scopes: { type: "string" }, rate: { type: "string" }, operator: { type: "boolean" } },
    allowPositionals: true,
  });
  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-keys", { waitOnFirstConnect: false });
  try {
    const spec = topologyFor(topologyOptionsFrom(config)).kv.find((k) => k.name === KV_BUCKETS.keys);
    const kv = await new Kvm(nc).create(KV_BUCKETS.keys, spec?.options);
    switch (sub) {
      case "create": {
        if (values.tenant === undefined) throw validationError("missing_tenant", "--tenant <name> is required", "tenant");
        const scopes = parseScopes(values.scopes ?? "send,read");
        let rate: number | undefined;
        if (values.rate !== undefined) {
          rate = Number(values.rate);
          if (!/^\d+$/.test(values.rate)) throw validationError("invalid_rate", `--rate expects a whole number of requests per second, got "${values.rate}"`, "rate");
        }
        const operator = values.operator === true;
        const created = await createApiKey(kv, { tenant: values.tenant, scopes, rate, operator });
        process.stdout.write(
          `created ${operator ? "operator " : ""}API key ${created.keyId} for tenant ${created.record.tenant} (scopes: ${scopes.join(",")}${rate === undefined ? "" : `, rate ${rate}/s`})\n` +
            `it is shown only this once; use it as: Authorization: Bearer <key>\n${created.key}\n`,
        );
        return;
      }
      case "list": {
        const keys = (await listApiKeys(kv)).filter((k) => values.tenant === undefined || k.tenant === values.tenant);
        process.stdout.write(`${"KEY ID".padEnd(14)}${"TENANT".padEnd(20)}${"SCOPES".padEnd(18)}${"RATE".padEnd(8)}${"CREATED".padEnd(26)}STATUS\n`);
        for (const k of keys) {
          process.stdout.write(
            `${k.keyId.padEnd(14)}${k.tenant.padEnd(20)}${(k.scopes.join(",") + (k.operator ? ",operator" : "")).padEnd(18)}${String(k.rate ?? "-").padEnd(8)}${new Date(k.createdAt).toISOString().padEnd(26)}${k.revoked ? "revoked" : "active"}\n`,
          );
        }
        return;
      }
      case "revoke": {
        const keyId = positionals[0];
        if (keyId === undefined) throw validationError("missing_key_id", "usage: sluice keys revoke <key-id> (see 'sluice keys list')", "keyId");
        if (!(await revokeApiKey(kv, keyId))) throw validationError("unknown_key", `no key with id ${keyId}`, "keyId");
        process.stdout.write(`revoked ${keyId}\n`);
        return;
      }
      default:
        throw validationError("usage", `usage: sluice keys create|list|revoke (see 'sluice keys --help')`);
    }
  } finally {
    await nc.close();
  }
}
