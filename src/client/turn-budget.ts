/**
 * Spreads CPU-heavy steps over turns of the event loop: at most `perTurn` run in one turn, the rest
 * wait for the next. A JSON-RPC batch of 1,000 raw transactions would otherwise recover 1,000
 * signatures in one go (~300 ms) while every other caller waits; with this, other requests are
 * read and answered between every `perTurn`. A lone call never waits.
 */
export class TurnBudget {
  readonly #perTurn: number;
  #left: number;
  #waiting: (() => void)[] = [];
  #scheduled = false;

  constructor(perTurn = 32) {
    this.#perTurn = perTurn;
    this.#left = perTurn;
  }

  /** Resolves when the caller may run its step (at once while this turn has room). */
  take(): Promise<void> | undefined {
    this.#schedule();
    if (this.#left > 0 && this.#waiting.length === 0) {
      this.#left--;
      return undefined;
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // setImmediate runs after the poll phase: the I/O waiting meanwhile is taken first.
    setImmediate(() => {
      this.#scheduled = false;
      this.#left = this.#perTurn;
      for (const resolve of this.#waiting.splice(0, this.#perTurn)) {
        this.#left--;
        resolve();
      }
      if (this.#waiting.length > 0) this.#schedule();
    });
  }
}
