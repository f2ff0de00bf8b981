import { BulwarkError } from '../common/errors.ts';

/**
 * Every error the storage layer raises on purpose. Callers branch on these codes: a replica that
 * meets `STORAGE_LOCKED` at start-up tells the operator another process owns the data directory,
 * while `STORAGE_CORRUPT` means a restore is needed, and retrying will not help.
 */
export type StorageErrorCode =
  | 'STORAGE_LOCKED'
  | 'STORAGE_MISSING'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_IO'
  | 'STORAGE_CLOSED'
  | 'STORAGE_INVALID_OP'
  | 'STORAGE_INVALID_OPTION'
  | 'STORAGE_CODEC';

export type StorageError = BulwarkError<StorageErrorCode>;

export function storageError(
  code: StorageErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): StorageError {
  return new BulwarkError(code, message, details, cause === undefined ? undefined : { cause });
}

/** The error for any call on a closed store; `where` names the store so logs say which one. */
export function closedError(where: string | null, op: string): StorageError {
  return storageError('STORAGE_CLOSED', `storage ${where ?? '(memory)'} is closed; ${op} refused`, {
    location: where,
    op,
  });
}
