import type { KV } from "@nats-io/kv";
import { decode, encode } from "../codec.ts";
import { newId, ID_PATTERN } from "../ids.ts";
import { listKeys } from "./kv-keys.ts";
import { TemplateHead, TemplateVersion, templateVariables, type TemplateInput, type TemplateView } from "../templates.ts";

/**
 * Stored templates in KV `sluice_templates` (NATS I/O; the pure part is templates.ts):
 * `<tenant>.<id>` holds the head (name, latest version) and `<tenant>.<id>.<version>` each
 * version, written once and never changed, so a batch that named version 3 renders version 3
 * for as long as the template exists. The head moves by compare-and-set: two PUTs at once
 * get two versions, not one lost.
 */
const headKey = (tenant: string, id: string): string => `${tenant}.${id}`;
const versionKey = (tenant: string, id: string, version: number): string => `${tenant}.${id}.${version}`;

const viewOf = (t: TemplateVersion): TemplateView => {
  const { v: _v, tenant: _t, ...view } = t;
  return view;
};

async function readHead(kv: KV, tenant: string, id: string): Promise<{ head: TemplateHead; revision: number } | undefined> {
  if (!ID_PATTERN.test(id)) return undefined;
  const e = await kv.get(headKey(tenant, id));
  if (e === null || e.operation !== "PUT") return undefined;
  const d = decode(TemplateHead, e.value, "template");
  return d.ok && d.value.tenant === tenant ? { head: d.value, revision: e.revision } : undefined;
}

function versionOf(tenant: string, id: string, version: number, input: TemplateInput, now: number): TemplateVersion {
  const t: TemplateVersion = { v: 1, id, tenant, version, name: input.name, subject: input.subject, variables: templateVariables(input), createdAt: now };
  if (input.text !== undefined) t.text = input.text;
  if (input.html !== undefined) t.html = input.html;
  return t;
}

export async function createTemplate(kv: KV, tenant: string, input: TemplateInput, now = Date.now()): Promise<TemplateView> {
  const id = newId(now);
  const t = versionOf(tenant, id, 1, input, now);
  // The version first: a head never points at a version that is not there.
  await kv.put(versionKey(tenant, id, 1), encode(t));
  await kv.create(headKey(tenant, id), encode({ v: 1, id, tenant, name: input.name, latest: 1, createdAt: now, updatedAt: now } satisfies TemplateHead));
  return viewOf(t);
}

/** A new version (the latest from now on); undefined when there is no such template. */
export async function updateTemplate(kv: KV, tenant: string, id: string, input: TemplateInput, now = Date.now()): Promise<TemplateView | undefined> {
  for (let attempt = 0; ; attempt++) {
    const current = await readHead(kv, tenant, id);
    if (current === undefined) return undefined;
    const version = current.head.latest + 1;
    const t = versionOf(tenant, id, version, input, now);
    try {
      await kv.create(versionKey(tenant, id, version), encode(t));
      await kv.update(headKey(tenant, id), encode({ ...current.head, name: input.name, latest: version, updatedAt: now } satisfies TemplateHead), current.revision);
      return viewOf(t);
    } catch (e) {
      // Another PUT took this version number: take the next.
      if (attempt >= 5) throw e;
    }
  }
}

/** One version (the latest when `version` is not given), or undefined. */
export async function getTemplate(kv: KV, tenant: string, id: string, version?: number): Promise<TemplateVersion | undefined> {
  const current = await readHead(kv, tenant, id);
  if (current === undefined) return undefined;
  const wanted = version ?? current.head.latest;
  if (wanted > current.head.latest) return undefined;
  const e = await kv.get(versionKey(tenant, id, wanted));
  if (e === null || e.operation !== "PUT") return undefined;
  const d = decode(TemplateVersion, e.value, "template version");
  return d.ok ? d.value : undefined;
}

export const templateView = viewOf;

/** The tenant's templates (latest versions), newest first, at most `limit`. */
export async function listTemplates(kv: KV, tenant: string, limit = 1000): Promise<{ id: string; name: string; latest: number; createdAt: number; updatedAt: number }[]> {
  const keys = (await listKeys(kv, `${tenant}.*`)).sort().reverse().slice(0, limit);
  const heads = await Promise.all(keys.map((k) => kv.get(k)));
  return heads.flatMap((e) => {
    if (e === null || e.operation !== "PUT") return [];
    const d = decode(TemplateHead, e.value, "template");
    return d.ok ? [{ id: d.value.id, name: d.value.name, latest: d.value.latest, createdAt: d.value.createdAt, updatedAt: d.value.updatedAt }] : [];
  });
}

/** Delete the template and every version; false when there was none. */
export async function deleteTemplate(kv: KV, tenant: string, id: string): Promise<boolean> {
  const current = await readHead(kv, tenant, id);
  if (current === undefined) return false;
  await kv.purge(headKey(tenant, id));
  const versions = await listKeys(kv, `${headKey(tenant, id)}.*`);
  await Promise.all(versions.map((k) => kv.purge(k)));
  return true;
}
