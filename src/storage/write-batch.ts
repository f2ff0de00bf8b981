import type { BatchOp } from './kvstore.ts';
import type { Repository } from './repository.ts';

/**
 * Collects writes across repositories for one atomic commit: `await store.write(batch.ops)`.
 * Later ops on the same key win, as the store applies them in order.
 */
export class WriteBatch {
  readonly #ops: BatchOp[] = [];

  get ops(): readonly BatchOp[] {
    return this.#ops;
  }

  get length(): number {
    return this.#ops.length;
  }

  put<K, V>(repo: Repository<K, V>, key: K, value: V): this {
    this.#ops.push(repo.putOp(key, value));
    return this;
  }

  del<K, V>(repo: Repository<K, V>, key: K): this {
    this.#ops.push(repo.delOp(key));
    return this;
  }

  /** For ops built elsewhere (e.g. by the trie), so they join the same commit. */
  push(...ops: BatchOp[]): this {
    this.#ops.push(...ops);
    return this;
  }
}
