import type { BatchOp, IterateOptions } from './kvstore.ts';
import { storageError } from './errors.ts';

/**
 * Checks a whole batch before any of it is applied: this is what makes "a batch with one bad op
 * applies nothing" hold for every store, rather than depending on how far a backend got.
 */
export function validateOps(ops: readonly BatchOp[]): void {
  if (!Array.isArray(ops)) throw storageError('STORAGE_INVALID_OP', 'batch must be an array of ops');
  ops.forEach((op: unknown, index) => validateOp(op, index));
}

function validateOp(op: unknown, index: number): void {
  // Ops arrive from TypeScript callers, but a cast or JSON round-trip can still smuggle in junk.
  const o = op as Partial<Record<'type' | 'key' | 'value', unknown>> | null;
  if (o === null || typeof o !== 'object') throw invalid(index, 'is not an object');
  if (o.type !== 'put' && o.type !== 'del') throw invalid(index, `has unknown type ${String(o.type)}`);
  if (!(o.key instanceof Uint8Array)) throw invalid(index, 'key is not a Uint8Array');
  if (o.type === 'put' && !(o.value instanceof Uint8Array)) throw invalid(index, 'value is not a Uint8Array');
}

function invalid(index: number, what: string) {
  return storageError('STORAGE_INVALID_OP', `batch op ${index} ${what}; nothing was written`, { index });
}

export function validateKey(key: unknown, what = 'key'): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw storageError('STORAGE_INVALID_OP', `${what} is not a Uint8Array`);
}

/** Returns the limit as a count, Infinity meaning none; rejects what RocksDB would misread. */
export function validateIterateOptions(options: IterateOptions): number {
  if (options.gte !== undefined) validateKey(options.gte, 'iterate gte');
  if (options.lt !== undefined) validateKey(options.lt, 'iterate lt');
  const limit = options.limit ?? Infinity;
  if (limit !== Infinity && !(Number.isSafeInteger(limit) && limit >= 0)) {
    throw storageError('STORAGE_INVALID_OPTION', `iterate limit must be a non-negative integer, got ${limit}`);
  }
  return limit;
}
