/**
 * File work shared by the stores of keys a node generates itself (`consensus-keys.ts`,
 * `node-key-store.ts`): listing the epochs in `keys/`, erasing a retired key, and erasing what a
 * crash left behind.
 *
 * A key is retired by renaming it to a tombstone first, so a crash mid-erase never leaves
 * half-overwritten bytes under a key's name for the next start to trip on; then its bytes are
 * overwritten in place with random ones, synced, and the file unlinked. Overwriting in place reaches
 * the old blocks on ext4 or xfs; copy-on-write file systems (btrfs, ZFS) and SSD wear-levelling may
 * keep them, against which sealing the keys under a passphrase is the defence.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BulwarkError } from '../common/errors.ts';
import { syncDirectory, writeKeyFile } from '../crypto/key-file.ts';
import type { ScryptCost } from '../crypto/key-seal.ts';

export { writeFileDurably } from '../crypto/key-file.ts';

/** The error code a store raises when a key cannot be erased (e.g. CONSENSUS_KEY_ERASE_FAILED). */
export type EraseFailedCode = `${string}_ERASE_FAILED`;

/** Temp files of `writeKeyFile` and `writeFileDurably` are `.<name>.<12 hex>.tmp`; tombstones `.<name>.retiring`. */
export function leftoverPattern(names: string): RegExp {
  return new RegExp(`^\\.(?:${names})\\.(?:retiring|[0-9a-f]{12}\\.tmp)$`);
}

/**
 * The epochs of the files in `dir` whose name `pattern` matches, its first group being the epoch;
 * a match that is not a canonical epoch in 1..max is the error `invalid` makes for its path.
 */
export async function listEpochs(dir: string, pattern: RegExp, max: number, invalid: (path: string) => BulwarkError): Promise<number[]> {
  const epochs: number[] = [];
  for (const name of await namesIn(dir)) {
    const digits = pattern.exec(name)?.[1];
    if (digits === undefined) continue;
    const epoch = Number(digits);
    if (String(epoch) !== digits || epoch < 1 || epoch > max) throw invalid(join(dir, name));
    epochs.push(epoch);
  }
  return epochs.sort((a, b) => a - b);
}

export async function eraseLeftovers(dir: string, pattern: RegExp, code: EraseFailedCode): Promise<void> {
  for (const name of await namesIn(dir)) if (pattern.test(name)) await erase(join(dir, name), code);
}

export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') return [];
    throw new BulwarkError('KEY_FILE_UNREADABLE', `cannot list the key files in ${dir}`, { path: dir, errno: errnoOf(cause) }, { cause });
  }
}

/**
 * Retires the key file at `path`: tombstone, overwrite, sync, unlink, sync the directory. Returns the
 * bytes overwritten, or null when neither the file nor a tombstone of it was there.
 */
export async function retireFile(path: string, code: EraseFailedCode): Promise<number | null> {
  const tomb = join(dirname(path), `.${basename(path)}.retiring`);
  try {
    await rename(path, tomb);
    await syncDirectory(dirname(path));
  } catch (cause) {
    // Gone already; a tombstone may remain from a retire cut short, which erase() finishes.
    if (errnoOf(cause) !== 'ENOENT') throw eraseFailed(path, code, cause);
  }
  return erase(tomb, code);
}

/** Overwrites the file's bytes in place with random ones, syncs, unlinks; null if it is not there. */
export async function erase(path: string, code: EraseFailedCode): Promise<number | null> {
  let handle;
  try {
    handle = await open(path, constants.O_RDWR | (constants.O_NOFOLLOW ?? 0));
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') return null;
    throw eraseFailed(path, code, cause);
  }
  try {
    const size = (await handle.stat()).size;
    const noise = randomBytes(size);
    for (let done = 0; done < size; ) done += (await handle.write(noise, done, size - done, done)).bytesWritten;
    await handle.sync();
    await handle.close();
    await unlink(path);
    await syncDirectory(dirname(path));
    return size;
  } catch (cause) {
    await handle.close().catch(() => undefined);
    throw eraseFailed(path, code, cause);
  }
}

/** Unlinks a public file (nothing to overwrite) and syncs its directory; false if it was not there. */
export async function removeFile(path: string, code: EraseFailedCode): Promise<boolean> {
  try {
    await unlink(path);
  } catch (cause) {
    if (errnoOf(cause) === 'ENOENT') return false;
    throw eraseFailed(path, code, cause);
  }
  await syncDirectory(dirname(path));
  return true;
}

/** Seals (when a passphrase is given) and writes a generated secret, then wipes it from memory. */
export async function writeSecret(
  path: string,
  spec: { readonly kind: string; readonly algorithm: string },
  material: Uint8Array,
  seal: { readonly passphrase?: string | undefined; readonly cost?: ScryptCost | undefined },
): Promise<void> {
  const options = seal.passphrase === undefined ? {} : { passphrase: seal.passphrase, ...(seal.cost ? { cost: seal.cost } : {}) };
  try {
    await writeKeyFile(path, { kind: spec.kind, algorithm: spec.algorithm, material }, options);
  } finally {
    material.fill(0);
  }
}

/** Runs tasks one at a time, in order; a failed task does not stop the ones after it. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task);
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (cause: unknown) => {
      if (errnoOf(cause) === 'ENOENT') return false;
      throw new BulwarkError('KEY_FILE_UNREADABLE', `cannot read key file ${path}`, { path, errno: errnoOf(cause) }, { cause });
    },
  );
}

export function errnoOf(cause: unknown): string | undefined {
  return (cause as NodeJS.ErrnoException | undefined)?.code;
}

function eraseFailed(path: string, code: EraseFailedCode, cause: unknown): BulwarkError {
  return new BulwarkError(code, `cannot erase key file ${path}`, { path, errno: errnoOf(cause) }, { cause });
}
