import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkAddress, TIERS, validationError, type TierName, errorMessage } from "../../protocol/index.ts";
import { CsvError } from "../send/csv.ts";
import { gatewaySubmitter, type GatewayTarget, type Submitter } from "../send/gateway-client.ts";
import { ProgressBar } from "../send/progress.ts";
import { recipientsFromCsv, type CsvRecipient, type Rejected } from "../send/recipients.ts";
import { formatSummary, type SendSummary } from "../send/summary.ts";
import { LOCAL_KEY_FILE, localApiKey } from "../send/local-key.ts";
import { unknownVars } from "../send/template.ts";

export const help = `sluice send

Send one message, or one per row of a CSV, through the gateway (or straight to NATS).

  --to ADDR            a recipient (repeat for several; one request, one message each)
  --csv FILE           recipients: a header row with an "email" column; every other
                       column is a variable for {{name}} placeholders (RFC 4180 quoting)
  --from ADDR          sender, "Name <addr>" allowed (required)
  --subject TEXT       subject template (required)
  --text TEXT          plain-text body template   (--text-file FILE to read it)
  --html HTML          HTML body template         (--html-file FILE to read it)
  --tier NAME          critical, transactional (default for --to) or bulk (default for --csv)
  --url URL            gateway URL (default SLUICE_URL, else http://127.0.0.1:8080)
  --key KEY            API key (default SLUICE_API_KEY; for a gateway on this machine,
                       the local profile's key in .data/local-api-key that make run writes)
  --direct             publish straight to NATS (NATS_URL) with the producer SDK
  --tenant NAME        tenant for --direct (default SLUICE_TENANT, else "default")
  --chunk N            recipients per batch request (default 1000)
  --send-at TIME       send later: ISO 8601 with an offset (2026-12-24T09:00:00+01:00) or unix ms
  --ttl DURATION       not delivered within this (from --send-at, or now): the recipient expires
  --json               print the summary as JSON

A progress bar is drawn on stderr when it is a terminal. The summary lists what was
accepted and every rejected recipient with the reason. Exit status 1 if any was rejected.`;

interface Content {
  from: string;
  subject: string;
  text?: string;
  html?: string;
  /** Scheduling: passed as the request fields of the same names (validated by the gateway or the SDK). */
  sendAt?: string | number;
  ttl?: string;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      to: { type: "string", multiple: true },
      csv: { type: "string" },
      from: { type: "string" },
      subject: { type: "string" },
      text: { type: "string" },
      "text-file": { type: "string" },
      html: { type: "string" },
      "html-file": { type: "string" },
      tier: { type: "string" },
      url: { type: "string" },
      key: { type: "string" },
      direct: { type: "boolean", default: false },
      tenant: { type: "string" },
      chunk: { type: "string", default: "1000" },
      json: { type: "boolean", default: false },
      "send-at": { type: "string" },
      ttl: { type: "string" },
    },
  });
  const to = values.to ?? [];
  if ((to.length === 0) === (values.csv === undefined)) throw validationError("invalid_arguments", "give either --to ADDR or --csv FILE", "to");
  if (!values.from) throw validationError("invalid_arguments", "--from is required", "from");
  if (values.subject === undefined) throw validationError("invalid_arguments", "--subject is required", "subject");
  const content: Content = { from: values.from, subject: values.subject };
  const text = values.text ?? readOptional(values["text-file"], "text-file");
  const html = values.html ?? readOptional(values["html-file"], "html-file");
  if (text !== undefined) content.text = text;
  if (html !== undefined) content.html = html;
  const sendAt = values["send-at"];
  if (sendAt !== undefined) content.sendAt = /^\d+$/.test(sendAt) ? Number(sendAt) : sendAt;
  if (values.ttl !== undefined) content.ttl = values.ttl;
  if (!content.text && !content.html) throw validationError("invalid_arguments", "give a body: --text, --html (or their -file forms)", "text");
  const tier = parseTier(values.tier, values.csv !== undefined ? "bulk" : "transactional");
  const chunk = Number(values.chunk);
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 100_000) throw validationError("invalid_arguments", "--chunk must be a whole number from 1 to 100000", "chunk");

  let submit: Submitter;
  let done = async (): Promise<void> => undefined;
  if (values.direct) {
    const { directSubmitter } = await import("../send/direct.ts");
    const direct = await directSubmitter(values.tenant ?? process.env.SLUICE_TENANT ?? "default");
    submit = direct.submitter;
    done = direct.close;
  } else {
    const url = values.url ?? process.env.SLUICE_URL ?? "http://127.0.0.1:8080";
    const target: GatewayTarget = { url, key: values.key ?? process.env.SLUICE_API_KEY ?? localApiKey(url) ?? "" };
    if (target.key === "") {
      throw validationError("invalid_arguments", `no API key: set SLUICE_API_KEY or pass --key (for a gateway on this machine, make run writes one to ${join(process.env.SLUICE_DATA_DIR ?? ".data", LOCAL_KEY_FILE)})`, "key");
    }
    submit = gatewaySubmitter(target);
  }
  let summary: SendSummary;
  try {
    summary = values.csv !== undefined ? await sendCsv(submit, content, tier, loadCsv(values.csv, content), chunk) : await sendOne(submit, content, tier, to);
  } finally {
    await done();
  }
  process.stdout.write(values.json ? JSON.stringify(summary) + "\n" : formatSummary(summary));
  if (summary.rejected.length > 0) process.exitCode = 1;
}

function readOptional(file: string | undefined, flag: string): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw validationError("invalid_arguments", `--${flag} ${file}: ${errorMessage(e)}`, flag);
  }
}

function parseTier(value: string | undefined, fallback: TierName): TierName {
  if (value === undefined) return fallback;
  const tier = TIERS.find((t) => t === value);
  if (!tier) throw validationError("invalid_arguments", `--tier must be one of ${TIERS.join(", ")}`, "tier");
  return tier;
}

/** Parse the CSV and warn (on stderr) about placeholders no column fills. */
export function loadCsv(file: string, content?: Content): { recipients: CsvRecipient[]; rejected: Rejected[]; columns: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw validationError("invalid_arguments", `--csv ${file}: ${errorMessage(e)}`, "csv");
  }
  try {
    const parsed = recipientsFromCsv(text);
    if (content) {
      const missing = unknownVars([content.subject, content.text, content.html], parsed.columns);
      if (missing.length > 0) process.stderr.write(`warning: no CSV column for ${missing.map((m) => `{{${m}}}`).join(", ")}\n`);
    }
    return parsed;
  } catch (e) {
    if (e instanceof CsvError) throw validationError("invalid_csv", `${file}: ${e.message}`, "csv");
    throw e;
  }
}

async function sendOne(submit: Submitter, content: Content, tier: TierName, to: string[]): Promise<SendSummary> {
  const rejected: Rejected[] = [];
  const good = to.filter((addr) => {
    const problem = checkAddress(addr);
    if (problem !== undefined) rejected.push({ where: addr, reason: `${addr} ${problem}` });
    return problem === undefined;
  });
  if (good.length === 0) return { accepted: 0, rejected, ids: [] };
  const answer = await submit.message({ ...content, to: good, tier });
  if (!answer.ok) {
    for (const addr of good) rejected.push({ where: addr, reason: describe(answer) });
    return { accepted: 0, rejected, ids: [] };
  }
  return { accepted: answer.body.recipients.length, rejected, ids: [answer.body.id] };
}

async function sendCsv(
  submit: Submitter,
  content: Content,
  tier: TierName,
  file: { recipients: CsvRecipient[]; rejected: Rejected[] },
  chunk: number,
): Promise<SendSummary> {
  const summary: SendSummary = { accepted: 0, rejected: [...file.rejected], ids: [] };
  const bar = new ProgressBar(file.recipients.length, "sending");
  for (let start = 0; start < file.recipients.length; start += chunk) {
    let rows = file.recipients.slice(start, start + chunk);
    const size = rows.length;
    // The gateway validates a batch whole: when it names one recipient, set that row
    // aside and send the rest again, so one bad row does not sink a thousand good ones.
    for (let tries = 0; rows.length > 0; tries++) {
      const body = { ...content, tier, recipients: rows.map((r) => ({ to: r.to, vars: r.vars })) };
      const answer = await submit.batch(body);
      if (answer.ok) {
        summary.accepted += answer.body.accepted;
        summary.ids.push(answer.body.batchId);
        break;
      }
      const row = badRow(answer.field, rows);
      if (row !== undefined && tries < 20) {
        summary.rejected.push({ where: `line ${row.line}`, reason: describe(answer) });
        rows = rows.filter((r) => r !== row);
        continue;
      }
      const first = rows[0]?.line ?? 0;
      const last = rows[rows.length - 1]?.line ?? 0;
      for (const r of rows) summary.rejected.push({ where: `line ${r.line}`, reason: describe(answer) });
      if (answer.status === 401 || answer.status === 403 || answer.status === 0) {
        // Every other chunk would get the same answer: stop, and say what was not sent.
        for (const r of file.recipients.slice(start + size)) summary.rejected.push({ where: `line ${r.line}`, reason: `not sent: ${describe(answer)}` });
        bar.finish();
        process.stderr.write(`stopped at lines ${first}-${last}: ${describe(answer)}\n`);
        return summary;
      }
      break;
    }
    bar.advance(size);
  }
  bar.finish();
  return summary;
}

function badRow(field: string | undefined, rows: CsvRecipient[]): CsvRecipient | undefined {
  const m = /^recipients\.(\d+)\b/.exec(field ?? "");
  return m ? rows[Number(m[1])] : undefined;
}

function describe(a: { status: number; code: string; message: string }): string {
  return a.status === 0 ? a.message : `${a.status} ${a.code}: ${a.message}`;
}
