/**
 * Smooth weighted round-robin (nginx's): each pick adds every candidate's weight to its
 * running score, takes the highest and subtracts the candidates' total from it. Weights
 * 2:1 give a, b, a, a, b, a... — interleaved, not bursts of one source — and a source left
 * out of a pick (no budget left) neither gains nor loses ground while it is out.
 */
export class SmoothWeightedRoundRobin {
  #score = new Map<string, number>();

  /** One of `candidates` (name → weight > 0); undefined when there are none. */
  pick(candidates: ReadonlyArray<readonly [name: string, weight: number]>): string | undefined {
    const best = this.peek(candidates);
    if (best === undefined) return undefined;
    let total = 0;
    for (const [name, weight] of candidates) {
      this.#score.set(name, (this.#score.get(name) ?? 0) + weight);
      total += weight;
    }
    this.#score.set(best, (this.#score.get(best) ?? 0) - total);
    return best;
  }

  /** What `pick` would choose, without choosing it. */
  peek(candidates: ReadonlyArray<readonly [name: string, weight: number]>): string | undefined {
    let best: string | undefined;
    let bestScore = -Infinity;
    for (const [name, weight] of candidates) {
      const score = (this.#score.get(name) ?? 0) + weight;
      if (score > bestScore) {
        best = name;
        bestScore = score;
      }
    }
    return best;
  }
}
