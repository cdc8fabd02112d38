import { createHash } from "node:crypto";

/**
 * Highest-random-weight (rendezvous) hashing: every node scores every partition and the
 * highest score wins. Any two nodes that see the same live set compute the same owners
 * with no coordination, and a join or leave moves only the partitions the joiner wins or
 * the leaver held (about P/N), never reshuffles the rest.
 *
 * sha256 rather than a fast non-cryptographic hash: it is computed only when membership
 * changes (P × N digests), and its output is identical everywhere a node id is a string.
 */
export function score(nodeId: string, partition: number): bigint {
  return createHash("sha256").update(`${nodeId}\n${partition}`).digest().readBigUInt64BE(0);
}

/** The node that owns `partition` among `nodes`; undefined when there is none. */
export function ownerOf(partition: number, nodes: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const node of nodes) {
    const s = score(node, partition);
    // Ties (2^-64) are broken by id so that every node still agrees.
    if (s > bestScore || (s === bestScore && best !== undefined && node < best)) {
      best = node;
      bestScore = s;
    }
  }
  return best;
}

/** partition → owner for partitions 0..count-1. */
export function assign(count: number, nodes: Iterable<string>): Map<number, string> {
  const list = [...new Set(nodes)];
  const owners = new Map<number, string>();
  if (list.length === 0) return owners;
  for (let p = 0; p < count; p++) owners.set(p, ownerOf(p, list) as string);
  return owners;
}

/** The partitions (ascending) that `self` wins among `nodes` (self counts as live). */
export function partitionsFor(self: string, count: number, nodes: Iterable<string>): number[] {
  const all = new Set(nodes);
  all.add(self);
  const mine: number[] = [];
  for (const [p, owner] of assign(count, all)) if (owner === self) mine.push(p);
  return mine;
}
