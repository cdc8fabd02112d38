import { normalizeDomain } from "./domain.ts";

/**
 * FNV-1a, 32 bit, over the UTF-8 bytes of the canonical (punycode) domain.
 * Chosen because it is tiny, fast, dependency-free and identical in every language a
 * producer SDK may be written in. Its values are pinned by test/unit/partition.test.ts:
 * changing this function re-routes every domain and breaks mixed-version clusters.
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i] as number;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** The partition (0..partitions-1) that owns a destination domain. */
export function partitionOf(domain: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  const canonical = normalizeDomain(domain);
  if (canonical === undefined) throw new RangeError(`not a domain: ${JSON.stringify(domain)}`);
  return fnv1a32(canonical) % partitions;
}
