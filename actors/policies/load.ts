import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { check, PolicyFile, validationError, type PolicyFile as PolicyFileType, errorMessage } from "../../protocol/index.ts";

/** Read `SLUICE_POLICIES` (JSON, or YAML when the name ends in .yaml/.yml); throws naming the field at fault. */
export function loadPolicyFile(path: string | undefined): PolicyFileType {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw validationError("policies_unreadable", `SLUICE_POLICIES: cannot read ${path}: ${errorMessage(e)}`, "SLUICE_POLICIES");
  }
  return parsePolicyText(text, /\.ya?ml$/i.test(path) ? "yaml" : "json", path);
}

export function parsePolicyText(text: string, format: "json" | "yaml", where = "policies"): PolicyFileType {
  let raw: unknown;
  try {
    raw = format === "yaml" ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw validationError("policies_invalid", `${where} is not valid ${format.toUpperCase()}: ${errorMessage(e)}`, "SLUICE_POLICIES");
  }
  const checked = check(PolicyFile, raw ?? {}, "policies");
  if (!checked.ok) throw validationError("policies_invalid", `${where}: ${checked.error.message}`, checked.error.field);
  return checked.value;
}
