/**
 * `{{var}}` placeholders, filled per recipient by the node at send time. The CLI only
 * needs to know which variables a template uses, to warn before sending 10,000 messages
 * whose greeting reads "Hello {{frist_name}}".
 */

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

export function templateVars(template: string | undefined): string[] {
  if (!template) return [];
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

/** Variables used by the templates that no recipient can supply. */
export function unknownVars(templates: (string | undefined)[], available: string[]): string[] {
  const have = new Set(available);
  return [...new Set(templates.flatMap(templateVars))].filter((v) => !have.has(v));
}

/** Fill placeholders (a preview of what a recipient receives); unknown ones are left as written. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => vars[name] ?? whole);
}
