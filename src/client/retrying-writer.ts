/**
 * Writes to the client node's store that nothing waits for — records learnt from the replicas (key
 * records, stable checkpoints), kept so they survive a restart. A write that fails (a full disk) is
 * reported and tried again later, never thrown away as an unhandled rejection, which would end the
 * process; the records are already in use in memory, so only their persistence waits.
 */
import type { BatchOp, KvStore } from '../storage/index.ts';

/** Operations waiting beyond this many are dropped, oldest first, and counted: memory stays bounded on a disk that stays full. */
const MAX_WAITING = 10_000;

export class RetryingWriter {
  readonly #kv: KvStore;
  readonly #onError: (err: unknown) => void;
  readonly #retryMs: number;
  #waiting: BatchOp[] = [];
  #busy = false;
  #timer: NodeJS.Timeout | null = null;
  failures = 0;
  dropped = 0;

  constructor(kv: KvStore, onError: (err: unknown) => void = () => undefined, retryMs = 1_000) {
    this.#kv = kv;
    this.#onError = onError;
    this.#retryMs = retryMs;
  }

  /** Queues `ops` (one atomic batch with whatever else is waiting) and writes as soon as it can. */
  write(ops: readonly BatchOp[]): void {
    this.#waiting.push(...ops);
    if (this.#waiting.length > MAX_WAITING) this.dropped += this.#waiting.splice(0, this.#waiting.length - MAX_WAITING).length;
    this.#flush();
  }

  #flush(): void {
    if (this.#busy || this.#timer !== null || this.#waiting.length === 0) return;
    this.#busy = true;
    const ops = this.#waiting.splice(0);
    this.#kv.write(ops).then(
      () => {
        this.#busy = false;
        this.#flush();
      },
      (err: unknown) => {
        this.failures++;
        this.#onError(err);
        this.#waiting.unshift(...ops);
        this.#busy = false;
        this.#timer = setTimeout(() => {
          this.#timer = null;
          this.#flush();
        }, this.#retryMs);
        this.#timer.unref();
      },
    );
  }

  /** Stops retrying (on shutdown). */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}
