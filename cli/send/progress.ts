/**
 * A one-line progress bar on stderr, only when stderr is a terminal (in a pipe or a log
 * file it would be noise). Redraws at most ten times a second.
 */
export class ProgressBar {
  #done = 0;
  #lastDraw = 0;
  readonly #enabled: boolean;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.#enabled = out.isTTY === true && total > 0;
  }

  advance(n: number): void {
    this.#done += n;
    const now = Date.now();
    if (now - this.#lastDraw >= 100 || this.#done >= this.total) {
      this.#lastDraw = now;
      this.#draw();
    }
  }

  finish(): void {
    if (this.#enabled) this.out.write("\n");
  }

  #draw(): void {
    if (!this.#enabled) return;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 40));
    const ratio = Math.min(1, this.#done / this.total);
    const filled = Math.round(ratio * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    this.out.write(`\r${this.label} ${bar} ${this.#done}/${this.total} ${(ratio * 100).toFixed(0)}%`);
  }
}
