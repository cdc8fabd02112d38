import { LRUCache } from "lru-cache";
import type { ObjectStore } from "@nats-io/obj";
import { type Payload, type PayloadPointer } from "../protocol/index.ts";
import { loadPayload } from "../protocol/io/index.ts";
import { buildTemplate, personalise, usesVariables, type MimeTemplate } from "./smtp/mime.ts";
import { compileTemplate, fill, type CompiledTemplate } from "./smtp/template.ts";

interface Entry {
  payload: Payload;
  /** Built once: the MIME of every recipient when the payload has no variables, else the compiled skeleton. */
  template: Promise<MimeTemplate> | undefined;
  compiled: Promise<CompiledTemplate | undefined> | undefined;
}

/**
 * Payloads by content hash, kept in an LRU so that a 100,000-recipient blast reads its
 * payload from the object store once per node, and builds its MIME once (a personalized
 * one is compiled once, and each recipient's values are filled into it).
 * Concurrent misses for one ref share a single read.
 */
export class PayloadCache {
  #cache: LRUCache<string, Entry>;
  #loading = new Map<string, Promise<Entry>>();
  reads = 0;

  constructor(private readonly os: ObjectStore, maxBytes = 64 * 1024 * 1024) {
    this.#cache = new LRUCache<string, Entry>({ maxSize: maxBytes, sizeCalculation: (e) => Math.max(1, approxSize(e.payload)) });
  }

  /** The MIME template for one recipient of this payload (personalised when it uses variables). */
  async templateFor(pointer: PayloadPointer, vars: Record<string, string> | undefined): Promise<MimeTemplate> {
    if ("inline" in pointer) return buildTemplate(usesVariables(pointer.inline) ? personalise(pointer.inline, vars ?? {}) : pointer.inline);
    const entry = await this.#entry(pointer.ref);
    if (entry.template !== undefined) return entry.template;
    const compiled = await entry.compiled;
    // fill() declines the rare values its skeleton cannot carry: those recipients are built whole.
    return (compiled && fill(compiled, vars ?? {})) ?? buildTemplate(personalise(entry.payload, vars ?? {}));
  }

  async #entry(ref: string): Promise<Entry> {
    const hit = this.#cache.get(ref);
    if (hit) return hit;
    const pending = this.#loading.get(ref);
    if (pending) return pending;
    const loading = (async () => {
      this.reads++;
      const payload = await loadPayload(this.os, ref);
      const personal = usesVariables(payload);
      const template = personal ? undefined : buildTemplate(payload);
      const compiled = personal ? compileTemplate(payload) : undefined;
      // A failed build must not stay cached: the next recipient tries again.
      template?.catch(() => this.#cache.delete(ref));
      compiled?.catch(() => this.#cache.delete(ref));
      const entry: Entry = { payload, template, compiled };
      this.#cache.set(ref, entry);
      return entry;
    })();
    this.#loading.set(ref, loading);
    try {
      return await loading;
    } finally {
      this.#loading.delete(ref);
    }
  }
}

function approxSize(p: Payload): number {
  let n = (p.text?.length ?? 0) + (p.html?.length ?? 0) + p.subject.length;
  for (const a of p.attachments ?? []) n += a.contentBase64.length;
  return n * 2 + 512;
}
