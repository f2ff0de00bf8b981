/**
 * A key-value store that can lose power: an in-memory store that remembers how to undo every
 * write since the last synced one. `cut()` undoes them, newest first, leaving what RocksDB leaves
 * after a power cut: every batch up to the last synced write (a sync makes the whole write-ahead
 * log before it durable), and of the later ones possibly none. Here none: the worst case.
 */
import { MemoryStore, type BatchOp, type IterateOptions, type KvStore } from '../../../src/storage/index.ts';

export class PowerCutStore implements KvStore {
  readonly location = null;
  readonly #inner = new MemoryStore();
  /** Per unsynced write, the keys it touched and what they held before it (undefined: absent). */
  #undo: { key: Uint8Array; before: Uint8Array | undefined }[][] = [];
  #writing: Promise<void> = Promise.resolve();
  /** Called after each synced write (everything written so far is durable). */
  onSync: (() => void) | null = null;
  /** Writes lost to power cuts so far. */
  lostWrites = 0;

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.#inner.get(key);
  }

  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return this.#inner.getMany(keys);
  }

  iterate(options?: IterateOptions): AsyncIterable<[Uint8Array, Uint8Array]> {
    return this.#inner.iterate(options);
  }

  write(ops: readonly BatchOp[], options: { readonly sync?: boolean } = {}): Promise<void> {
    // One write at a time, so that the values read for the undo are the ones each write replaces.
    const done = this.#writing.then(async () => {
      if (options.sync === true) {
        await this.#inner.write(ops);
        this.#undo = [];
        this.onSync?.();
        return;
      }
      const before = await this.#inner.getMany(ops.map((op) => op.key));
      await this.#inner.write(ops);
      this.#undo.push(ops.map((op, i) => ({ key: op.key, before: before[i] })));
    });
    this.#writing = done.catch(() => undefined);
    return done;
  }

  /** The power goes: every write since the last synced one is undone. */
  async cut(): Promise<void> {
    await this.#writing;
    for (const write of this.#undo.reverse()) {
      // Within a batch, the first op's `before` is the value before the batch: undo last to first.
      for (const { key, before } of [...write].reverse()) {
        await this.#inner.write([before === undefined ? { type: 'del', key } : { type: 'put', key, value: before }]);
      }
      this.lostWrites++;
    }
    this.#undo = [];
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
