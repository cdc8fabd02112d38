import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { loadConfig, validationError } from "../../protocol/index.ts";
import {
  connectNats,
  deleteDeadLetter,
  getDeadLetter,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetter,
  type DeadLetterView,
  type DlqDeps,
} from "../../protocol/io/index.ts";

export const help = `sluice dlq ls --tenant <name> [--limit <n>] [--after <seq>] [--json]
sluice dlq show --tenant <name> <message-id>
sluice dlq replay --tenant <name> <message-id>...
sluice dlq purge --tenant <name> (<message-id>... | --all)

The dead-letter queue (stream MAIL_DLQ), straight from NATS: what could not be delivered,
with its reason and every attempt. 'replay' puts a message back on MAIL_SEND as new (fresh
retry window, no attempts) and removes its dead letter; 'purge' removes dead letters for good.
A message the node could not read is kept raw with reason 'invalid' (not replayable); one
whose tenant could not be read is under --tenant _unknown, by id seq-<MAIL_SEND sequence>.`;

const line = (v: DeadLetterView, seq: number): string => {
  const dl = "message" in v ? v : undefined;
  const last = dl?.attempts.at(-1);
  // A record without a readable message shows its reason's text where the last reply goes.
  const reply = (last ? `${last.code ?? ""} ${last.text}` : dl ? "" : v.reason.message).trim().slice(0, 60);
  const at = "at" in v ? new Date(v.at).toISOString() : "-";
  return `${String(seq).padEnd(8)}${v.id.padEnd(36)}${at.padEnd(26)}${v.reason.code.padEnd(16)}${(dl?.message.rcptTo ?? "-").padEnd(32)}${reply}`;
};

export async function run(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      tenant: { type: "string" },
      limit: { type: "string" },
      after: { type: "string" },
      json: { type: "boolean", default: false },
      all: { type: "boolean", default: false },
    },
    allowPositionals: true,
  });
  if (!["ls", "show", "replay", "purge"].includes(sub ?? "")) throw validationError("usage", "usage: sluice dlq ls|show|replay|purge (see 'sluice dlq --help')");
  const tenant = values.tenant;
  if (tenant === undefined) throw validationError("missing_tenant", "--tenant <name> is required", "tenant");
  const number = (name: "limit" | "after"): number | undefined => {
    const v = values[name];
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw validationError(`invalid_${name}`, `--${name} expects a whole number, got "${v}"`, name);
    return Number(v);
  };
  const ids = (): string[] => {
    if (positionals.length === 0) throw validationError("missing_id", `usage: sluice dlq ${sub} --tenant <name> <message-id>...`, "id");
    return positionals;
  };

  const config = loadConfig();
  const nc = await connectNats(config.nats, "sluice-dlq", { waitOnFirstConnect: false });
  try {
    const deps: DlqDeps = { js: jetstream(nc), jsm: await jetstreamManager(nc), partitions: config.partitions };
    const out = (s: string) => process.stdout.write(s + "\n");
    switch (sub) {
      case "ls": {
        const limit = number("limit");
        const after = number("after");
        const page = await listDeadLetters(deps, tenant, { ...(limit === undefined ? {} : { limit }), ...(after === undefined ? {} : { after }) });
        if (values.json) {
          out(JSON.stringify({ deadLetters: page.deadLetters.map((s) => s.view), ...(page.next === undefined ? {} : { next: page.next }) }));
          return;
        }
        out(`${"SEQ".padEnd(8)}${"MESSAGE ID".padEnd(36)}${"DEAD-LETTERED".padEnd(26)}${"REASON".padEnd(16)}${"RECIPIENT".padEnd(32)}LAST REPLY`);
        for (const s of page.deadLetters) out(line(s.view, s.seq));
        if (page.next !== undefined) out(`more: sluice dlq ls --tenant ${tenant} --after ${page.next}`);
        return;
      }
      case "show": {
        for (const id of ids()) {
          const stored = await getDeadLetter(deps, tenant, id);
          if (stored === undefined) throw validationError("not_found", `no dead letter for message ${id} of tenant ${tenant}`, "id");
          out(JSON.stringify(stored.view, null, 2));
        }
        return;
      }
      case "replay": {
        for (const id of ids()) {
          const replayed = await replayDeadLetter(deps, tenant, id);
          if (replayed === undefined) throw validationError("not_found", `no dead letter for message ${id} of tenant ${tenant}`, "id");
          out(`replayed ${id} → ${replayed.message.rcptTo}`);
        }
        return;
      }
      case "purge": {
        if (values.all) {
          out(`purged ${await purgeDeadLetters(deps, tenant)} dead letter(s) of tenant ${tenant}`);
          return;
        }
        for (const id of ids()) {
          if (!(await deleteDeadLetter(deps, tenant, id))) throw validationError("not_found", `no dead letter for message ${id} of tenant ${tenant}`, "id");
          out(`purged ${id}`);
        }
        return;
      }
    }
  } finally {
    await nc.close();
  }
}
