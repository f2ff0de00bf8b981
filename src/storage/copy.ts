/**
 * A consistent copy of open stores into new RocksDB databases, while the stores stay in use.
 *
 * The binding (@nxtedition/rocksdb 12.2.12) has no checkpoint or backup engine, but a RocksDB
 * iterator reads one implicit snapshot: the store as of its creation, whatever is written after.
 * So each store's whole key range is read through one iterator and written, in batches, into a
 * new database. The iterators of all the stores are created together, in one synchronous stretch
 * of the event loop, and `atSnapshot` runs in that same stretch — every write this process made
 * before it is in the copies, none after — so the caller can copy files (keys) at the same point.
 */
import type { BatchOp, KvStore } from './kvstore.ts';
import { openRocksStore } from './rocksdb.ts';
import { isBulwarkError } from '../common/errors.ts';
import { storageError } from './errors.ts';

export interface StoreCopy {
  readonly from: KvStore;
  /** Where the new database goes: a path where none exists (the caller's fresh directory). */
  readonly to: string;
}

export interface CopiedStore {
  readonly to: string;
  readonly keys: number;
  /** Keys and values, in bytes. */
  readonly bytes: number;
}

/** Rows per write into the new database; bounded in bytes too. */
const BATCH_ROWS = 10_000;
const BATCH_BYTES = 4 << 20;

/**
 * Copies every store of `copies` as of one moment, calling `atSnapshot` (synchronously) at that
 * moment. On failure the partial databases are left for the caller, who owns the target paths.
 */
export async function copyStores(copies: readonly StoreCopy[], atSnapshot: () => void = () => undefined): Promise<CopiedStore[]> {
  // An async generator's body runs up to its first await on the first next(): for a RocksDB
  // store that creates the native iterator, and with it the snapshot (`rocksdb.ts`).
  const readers = copies.map((c) => c.from.iterate()[Symbol.asyncIterator]());
  const firsts = readers.map((r) => r.next());
  // Awaited in turn below; a failure of one still waiting must not surface as unhandled.
  for (const f of firsts) f.catch(() => undefined);
  const out: CopiedStore[] = [];
  try {
    atSnapshot();
    for (const [i, c] of copies.entries()) out.push(await drain(readers[i]!, firsts[i]!, c.to));
    return out;
  } catch (err) {
    // Iterators left open would hold their snapshots (and delay the stores' close).
    await Promise.all(readers.map((r) => r.return?.().catch(() => undefined)));
    throw err;
  }
}

async function drain(
  reader: AsyncIterator<[Uint8Array, Uint8Array]>,
  first: Promise<IteratorResult<[Uint8Array, Uint8Array]>>,
  to: string,
): Promise<CopiedStore> {
  const target = await openRocksStore(to, { createIfMissing: true });
  let keys = 0;
  let bytes = 0;
  try {
    let ops: BatchOp[] = [];
    let pending = 0;
    for (let r = await first; r.done !== true; r = await reader.next()) {
      const [key, value] = r.value;
      // A full batch is written once another row follows, so the last batch is never empty.
      if (ops.length >= BATCH_ROWS || pending >= BATCH_BYTES) {
        await target.write(ops);
        ops = [];
        pending = 0;
      }
      ops.push({ type: 'put', key, value });
      keys++;
      bytes += key.length + value.length;
      pending += key.length + value.length;
    }
    // The last write is synced, and with it the write-ahead log of every earlier one.
    await target.write(ops, { sync: true });
  } catch (err) {
    throw isBulwarkError(err) ? err : storageError('STORAGE_IO', `copying into ${to} failed`, { to }, err);
  } finally {
    await target.close();
  }
  return { to, keys, bytes };
}
