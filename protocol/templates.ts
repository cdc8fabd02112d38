import { z } from "zod";
import { validationError, type SluiceError } from "./errors.ts";
import { HeaderText } from "./schemas/address.ts";
import { Tenant } from "./schemas/delivery.ts";

/**
 * Stored templates, the pure part: schemas, the placeholders a template uses, the missing
 * variables of a send, and how a request naming `templateId` becomes an ordinary request.
 * The gateway puts the stored subject/text/html into the request's own fields, so the node's
 * renderer (actors/smtp/mime.ts) stays the one that fills `{{var}}` at send time; only the
 * preview (`POST /v1/templates/{id}/render`) renders here, with the same placeholder syntax.
 * KV I/O is in template-store.ts.
 */

/** `{{ name }}`: the node's renderer reads the same pattern (actors/smtp/mime.ts). */
export const PLACEHOLDER_PATTERN = /\{\{\s*([A-Za-z0-9_.-]{1,64})\s*\}\}/g;

export const TEMPLATE_NAME_MAX = 128;

const hasBody = (t: { text?: string | undefined; html?: string | undefined }): boolean => (t.text ?? "") !== "" || (t.html ?? "") !== "";

/** POST /v1/templates and PUT /v1/templates/{id} (a PUT creates the next version). */
export const TemplateInput = z
  .object({
    name: z.string().min(1).max(TEMPLATE_NAME_MAX),
    subject: HeaderText,
    text: z.string().max(1_000_000).optional(),
    html: z.string().max(1_000_000).optional(),
  })
  .strict()
  .refine(hasBody, { message: "missing body: give text or html (or both)", path: ["text"] });
export type TemplateInput = z.output<typeof TemplateInput>;

/** One version, in KV `sluice_templates` under `<tenant>.<id>.<version>`; versions never change. */
export const TemplateVersion = z
  .object({
    v: z.literal(1),
    id: z.string(),
    tenant: Tenant,
    version: z.number().int().positive(),
    name: z.string(),
    subject: z.string(),
    text: z.string().optional(),
    html: z.string().optional(),
    /** The placeholders it uses, sorted: what a send must give (or gets as ""). */
    variables: z.array(z.string()),
    createdAt: z.number().int(),
  })
  .strict();
export type TemplateVersion = z.infer<typeof TemplateVersion>;

/** The template itself, under `<tenant>.<id>`: its latest version (the default of a send). */
export const TemplateHead = z
  .object({ v: z.literal(1), id: z.string(), tenant: Tenant, name: z.string(), latest: z.number().int().positive(), createdAt: z.number().int(), updatedAt: z.number().int() })
  .strict();
export type TemplateHead = z.infer<typeof TemplateHead>;

/** What the API shows of one version (answers of POST, GET and PUT /v1/templates/{id}). */
export const TemplateView = z
  .object({
    id: z.string(),
    name: z.string(),
    version: z.number().int().positive(),
    subject: z.string(),
    text: z.string().optional(),
    html: z.string().optional(),
    variables: z.array(z.string()).describe("the {{placeholders}} it uses"),
    createdAt: z.number().int(),
  })
  .strict();
export type TemplateView = z.output<typeof TemplateView>;

/** GET /v1/templates */
export const TemplateList = z
  .object({ templates: z.array(z.object({ id: z.string(), name: z.string(), latest: z.number().int(), createdAt: z.number().int(), updatedAt: z.number().int() }).strict()) })
  .strict();

/** POST /v1/templates/{id}/render: the body and the answer. */
export const RenderRequest = z
  .object({ vars: z.record(z.string(), z.string()).optional(), version: z.number().int().positive().optional().describe("default: the latest") })
  .strict();
export const RenderedTemplate = z
  .object({
    id: z.string(),
    version: z.number().int(),
    subject: z.string(),
    text: z.string().optional(),
    html: z.string().optional(),
    missing: z.array(z.string()).describe("variables the preview left empty"),
  })
  .strict();

/** GET /v1/templates/{id}?version= */
export const TemplateVersionQuery = z.object({ version: z.coerce.number().int().positive().optional() }).strict();

/** The fields a send request may carry instead of subject/text/html (`strictVars` also without a template). */
export const TemplateRef = z
  .object({
    templateId: z.string().regex(/^[0-9a-z]{26}$/, "is not a template id").optional(),
    templateVersion: z.number().int().positive().optional(),
    strictVars: z.boolean().optional(),
  })
  .strict();
export type TemplateRef = z.infer<typeof TemplateRef>;

/** Placeholder names used anywhere in subject, text and html, sorted, each once. */
export function templateVariables(t: { subject: string; text?: string | undefined; html?: string | undefined }): string[] {
  const names = new Set<string>();
  for (const s of [t.subject, t.text ?? "", t.html ?? ""]) for (const m of s.matchAll(PLACEHOLDER_PATTERN)) if (m[1] !== undefined) names.add(m[1]);
  return [...names].sort();
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const headerSafe = (s: string): string => s.replace(/[\r\n\x00-\x08\x0b-\x1f\x7f]+/g, " ");
const fill = (s: string, vars: Record<string, string>, escape: (s: string) => string = (x) => x): string =>
  s.replace(PLACEHOLDER_PATTERN, (_m, name: string) => escape(vars[name] ?? ""));

/** The preview: filled as the node fills them (html-escaped in html, no line breaks in the subject); `missing` were left empty. */
export function renderPreview(t: TemplateVersion, vars: Record<string, string>): { subject: string; text?: string; html?: string; missing: string[] } {
  const out: { subject: string; text?: string; html?: string; missing: string[] } = { subject: fill(t.subject, vars, headerSafe), missing: t.variables.filter((n) => !Object.hasOwn(vars, n)) };
  if (t.text !== undefined) out.text = fill(t.text, vars);
  if (t.html !== undefined) out.html = fill(t.html, vars, escapeHtml);
  return out;
}

/** Per recipient index, the variables it lacks (only recipients that lack some). */
export function missingVariables(variables: readonly string[], recipients: readonly { vars?: Record<string, string> | undefined }[]): { index: number; missing: string[] }[] {
  if (variables.length === 0) return [];
  const out: { index: number; missing: string[] }[] = [];
  recipients.forEach((r, index) => {
    const missing = variables.filter((n) => r.vars === undefined || !Object.hasOwn(r.vars, n));
    if (missing.length > 0) out.push({ index, missing });
  });
  return out;
}

/** The 400 of `strictVars: true`: which recipient lacks which names (the first 20 recipients named). */
export function missingVarsError(missing: { index: number; missing: string[] }[]): SluiceError {
  const shown = missing.slice(0, 20).map((m) => `recipients.${m.index}: ${m.missing.join(", ")}`);
  const more = missing.length > 20 ? `; and ${missing.length - 20} more recipients` : "";
  return validationError("missing_vars", `strictVars: ${missing.length} recipient(s) lack template variables: ${shown.join("; ")}${more}`, `recipients.${missing[0]?.index ?? 0}.vars`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Split a request body into its template reference (if any) and the rest. A body naming
 * `templateId` may not also give subject, text or html: which one wins would be a guess.
 */
export function templateRefOf(body: unknown): { ok: true; ref: TemplateRef | undefined; rest: unknown } | { ok: false; error: SluiceError } {
  if (!isObject(body) || (!("templateId" in body) && !("templateVersion" in body) && !("strictVars" in body))) return { ok: true, ref: undefined, rest: body };
  const { templateId, templateVersion, strictVars, ...rest } = body;
  const parsed = TemplateRef.safeParse({ templateId, templateVersion, strictVars });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? "templateId");
    return { ok: false, error: validationError("invalid_request", `${field} ${issue?.message ?? "is invalid"}`, field) };
  }
  if (parsed.data.templateId === undefined) {
    if (parsed.data.templateVersion !== undefined) return { ok: false, error: validationError("invalid_request", "templateVersion needs templateId", "templateVersion") };
    return { ok: true, ref: parsed.data, rest };
  }
  for (const f of ["subject", "text", "html"]) {
    if (f in rest) return { ok: false, error: validationError("invalid_request", `${f} cannot be given with templateId: the template holds subject, text and html`, f) };
  }
  return { ok: true, ref: parsed.data, rest };
}

/** The request with the template's content in its own fields (then validated as any request). */
export function withTemplate(rest: unknown, t: TemplateVersion): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(isObject(rest) ? rest : {}), subject: t.subject };
  if (t.text !== undefined) out.text = t.text;
  if (t.html !== undefined) out.html = t.html;
  return out;
}
