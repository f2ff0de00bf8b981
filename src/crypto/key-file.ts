/**
 * Key files: one key per file, JSON `{version, kind, algorithm, material}` with the material in hex.
 *
 * Written owner-only (0600) and atomically (temp file in the same directory, fsync, rename, fsync of
 * the directory), so a crash mid-write leaves the old key or the new one, never half of one — a
 * replica that loses its consensus key mid-rotation cannot rejoin. Reading refuses files that group
 * or others can read, as ssh does: a key that leaked through its permissions is already lost.
 */
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BulwarkError } from '../common/errors.ts';
import { bytesToHex, hexToBytes } from './hex.ts';

export const KEY_FILE_VERSION = 1;

export interface KeyFile {
  /** What the key is for, e.g. 'bls-consensus-secret', 'secp256k1-private', 'node-auth-private'. */
  readonly kind: string;
  /** e.g. 'bls12-381', 'secp256k1', 'ed25519', 'p384'. */
  readonly algorithm: string;
  readonly material: Uint8Array;
}

export async function writeKeyFile(path: string, keyFile: KeyFile): Promise<void> {
  const body = JSON.stringify(
    { version: KEY_FILE_VERSION, kind: keyFile.kind, algorithm: keyFile.algorithm, material: bytesToHex(keyFile.material) },
    null,
    2,
  );
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(body + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(dirname(path));
  } catch (cause) {
    await rm(temp, { force: true });
    throw new BulwarkError('KEY_FILE_WRITE_FAILED', `cannot write key file ${path}`, { path }, { cause });
  }
}

/** `expect` pins kind and algorithm so a key of the wrong sort is refused by name, not misused. */
export async function readKeyFile(path: string, expect: { kind?: string; algorithm?: string } = {}): Promise<KeyFile> {
  const text = await readOwnerOnly(path);
  const keyFile = parseKeyFile(path, text);
  for (const field of ['kind', 'algorithm'] as const) {
    const wanted = expect[field];
    if (wanted !== undefined && keyFile[field] !== wanted) {
      throw new BulwarkError('KEY_FILE_WRONG_KIND', `key file ${path} has ${field} ${keyFile[field]}, expected ${wanted}`, {
        path,
        field,
        expected: wanted,
        actual: keyFile[field],
      });
    }
  }
  return keyFile;
}

async function readOwnerOnly(path: string): Promise<string> {
  try {
    const info = await stat(path);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      throw new BulwarkError('KEY_FILE_INSECURE_PERMISSIONS', `key file ${path} is readable by others; chmod 600 it`, {
        path,
        mode: (info.mode & 0o777).toString(8),
      });
    }
    return await readFile(path, 'utf8');
  } catch (cause) {
    if (cause instanceof BulwarkError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BulwarkError('KEY_FILE_NOT_FOUND', `key file ${path} does not exist`, { path }, { cause });
    throw new BulwarkError('KEY_FILE_UNREADABLE', `cannot read key file ${path}`, { path, errno: code }, { cause });
  }
}

function parseKeyFile(path: string, text: string): KeyFile {
  const malformed = (why: string, cause?: unknown): BulwarkError =>
    new BulwarkError('KEY_FILE_MALFORMED', `key file ${path} is malformed: ${why}`, { path, why }, { cause });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw malformed('not JSON', cause);
  }
  if (typeof json !== 'object' || json === null) throw malformed('not a JSON object');
  const { version, kind, algorithm, material } = json as Record<string, unknown>;
  if (version !== KEY_FILE_VERSION) throw malformed(`unsupported version ${String(version)}`);
  if (typeof kind !== 'string' || kind === '') throw malformed('missing kind');
  if (typeof algorithm !== 'string' || algorithm === '') throw malformed('missing algorithm');
  if (typeof material !== 'string' || material === '') throw malformed('missing material');
  try {
    return { kind, algorithm, material: hexToBytes(material) };
  } catch (cause) {
    throw malformed('material is not hex', cause);
  }
}

/** Makes the rename itself durable; some file systems cannot open a directory, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Best effort only: the file's own data was already synced.
  } finally {
    await handle?.close();
  }
}
