import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageError, StorageErrorCode } from './errors.ts';
import { storageError } from './errors.ts';

/**
 * Turns what RocksDB and abstract-level report into typed errors that name the path. abstract-level
 * wraps every open failure as LEVEL_DATABASE_NOT_OPEN and keeps RocksDB's status in `cause`, so the
 * cause is what gets classified. RocksDB reports some corruption (a missing MANIFEST, a directory
 * where CURRENT should be) as plain IO errors, hence the message checks below.
 */
interface LevelError {
  readonly code?: string;
  readonly message?: string;
  readonly cause?: unknown;
}

const MISSING_PATTERN = /does not exist \(create_if_missing is false\)/;
const CORRUPT_IO_PATTERNS = [/No such file or directory/, /Is a directory/, /exists but is not a directory/];

export function classifyOpenError(path: string, err: unknown): StorageError {
  const inner = innermost(err);
  const code = openCode(inner);
  const reason = OPEN_REASONS[code];
  return storageError(code, `cannot open database at ${path}: ${reason} (${inner.message ?? String(inner)})`, {
    location: path,
    rocksCode: inner.code,
  }, err);
}

function openCode(inner: LevelError): StorageErrorCode {
  const message = inner.message ?? '';
  if (inner.code === 'LEVEL_LOCKED') return 'STORAGE_LOCKED';
  if (inner.code === 'LEVEL_CORRUPTION') return 'STORAGE_CORRUPT';
  if (MISSING_PATTERN.test(message)) return 'STORAGE_MISSING';
  if (inner.code === 'LEVEL_IO_ERROR' && CORRUPT_IO_PATTERNS.some((p) => p.test(message))) return 'STORAGE_CORRUPT';
  return 'STORAGE_IO';
}

const OPEN_REASONS: Record<StorageErrorCode, string> = {
  STORAGE_LOCKED: 'it is locked by another process or another open handle in this one',
  STORAGE_MISSING: 'no database there and createIfMissing is false',
  STORAGE_CORRUPT: 'the database files are corrupt',
  STORAGE_IO: 'I/O error',
  STORAGE_CLOSED: 'closed',
  STORAGE_INVALID_OP: 'invalid operation',
  STORAGE_INVALID_OPTION: 'invalid option',
  STORAGE_CODEC: 'codec error',
};

/** Errors from get/write/iterate on an open store. */
export function classifyRuntimeError(path: string, op: string, err: unknown): StorageError {
  const inner = innermost(err);
  const code: StorageErrorCode =
    inner.code === 'LEVEL_DATABASE_NOT_OPEN' || inner.code === 'LEVEL_ITERATOR_NOT_OPEN'
      ? 'STORAGE_CLOSED'
      : inner.code === 'LEVEL_CORRUPTION'
        ? 'STORAGE_CORRUPT'
        : 'STORAGE_IO';
  return storageError(code, `${op} failed on database at ${path}: ${inner.message ?? String(inner)}`, {
    location: path,
    op,
    rocksCode: inner.code,
  }, err);
}

function innermost(err: unknown): LevelError {
  let e = err as LevelError;
  while (e?.cause !== undefined && e.cause !== null) e = e.cause as LevelError;
  return e ?? {};
}

/**
 * Checks the directory before RocksDB sees it, because RocksDB's own answers are vague here: it
 * reports "no database" as InvalidArgument, and with createIfMissing it would happily build a new
 * database inside a directory whose CURRENT was replaced by something else.
 */
export async function preflight(path: string, createIfMissing: boolean): Promise<void> {
  const dir = await statOrNull(path);
  if (dir === null) {
    if (!createIfMissing) throw classified(path, 'STORAGE_MISSING', 'the directory does not exist');
    return;
  }
  if (!dir.isDirectory()) throw classified(path, 'STORAGE_CORRUPT', 'it exists but is not a directory');
  const current = await statOrNull(join(path, 'CURRENT'));
  if (current === null) {
    if (!createIfMissing) throw classified(path, 'STORAGE_MISSING', 'the directory holds no database (no CURRENT file)');
    return;
  }
  if (!current.isFile()) throw classified(path, 'STORAGE_CORRUPT', 'its CURRENT is not a regular file');
}

function classified(path: string, code: StorageErrorCode, why: string): StorageError {
  return storageError(code, `cannot open database at ${path}: ${why}`, { location: path });
}

async function statOrNull(p: string) {
  try {
    return await stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw storageError('STORAGE_IO', `cannot open database at ${p}: ${(err as Error).message}`, { location: p }, err);
  }
}
