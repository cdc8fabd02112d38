import {
  missingVariables,
  missingVarsError,
  templateRefOf,
  templateVariables,
  validationError,
  withTemplate,
  type TemplateRef,
} from "../protocol/index.ts";
import { getTemplate } from "../protocol/io/index.ts";
import type { GatewayContext } from "./context.ts";
import { HttpError } from "./http-error.ts";

/**
 * `templateId` (+ `templateVersion`) in a send: the stored subject/text/html go into the
 * request's own fields, and the request is then validated like any other. The node's
 * renderer fills `{{var}}` as it always does; nothing renders here.
 */
export async function resolveTemplate(ctx: GatewayContext, tenant: string, body: unknown): Promise<{ body: unknown; ref: TemplateRef | undefined }> {
  const split = templateRefOf(body);
  if (!split.ok) throw split.error;
  const { ref, rest } = split;
  if (ref?.templateId === undefined) return { body: rest, ref };
  const template = await getTemplate((await ctx.deps()).templates, tenant, ref.templateId, ref.templateVersion);
  if (template === undefined) {
    const which = ref.templateVersion === undefined ? ref.templateId : `${ref.templateId} version ${ref.templateVersion}`;
    throw new HttpError(404, "template_not_found", `no template ${which} (GET /v1/templates lists yours)`, ref.templateVersion === undefined ? "templateId" : "templateVersion");
  }
  return { body: withTemplate(rest, template), ref };
}

/**
 * Recipients lacking a variable the content uses: by default they get "" and are counted
 * (the batch's `missingVars`); with `strictVars: true` the request is refused, naming them.
 */
export function checkBatchVars(content: { subject: string; text?: string | undefined; html?: string | undefined; recipients: { vars?: Record<string, string> | undefined }[] }, strict: boolean): number {
  const missing = missingVariables(templateVariables(content), content.recipients);
  if (strict && missing.length > 0) throw missingVarsError(missing);
  return missing.length;
}

/** A single message carries no per-recipient vars: with strictVars, content that uses any is refused. */
export function checkMessageVars(content: { subject: string; text?: string | undefined; html?: string | undefined }, strict: boolean): void {
  const names = templateVariables(content);
  if (strict && names.length > 0) {
    throw validationError("missing_vars", `strictVars: the content uses ${names.map((n) => `{{${n}}}`).join(", ")} but POST /v1/messages carries no per-recipient vars; use POST /v1/batches with recipients[].vars`, "strictVars");
  }
}
