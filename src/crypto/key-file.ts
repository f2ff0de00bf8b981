/**
 * Key files: one key per file, JSON `{version, kind, algorithm, material}` with the material in hex.
 *
 * Written owner-only (0600) and atomically (temp file in the same directory, fsync, rename, fsync of
 * the directory), so a crash mid-write leaves the old key or the new one, never half of one — a
 * replica that loses its consensus key mid-rotation cannot rejoin. Reading refuses files that group
 * or others can read, as ssh does: a key that leaked through its permissions is already lost.
 *
 * Optionally sealed under a passphrase (`key-seal.ts`): the file then also holds
 * `encryption: {cipher, kdf, logN, r, p, salt, iv, tag}` and `material` is the ciphertext. Kind and
 * algorithm stay readable, so a wrong file is still refused by name before any passphrase is tried.
 */
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BulwarkError } from '../common/errors.ts';
import { bytesToHex, hexToBytes } from './hex.ts';
import { DEFAULT_SCRYPT_COST, openKey, sealKey, type ScryptCost, type SealedKey } from './key-seal.ts';

export const KEY_FILE_VERSION = 1;

export interface KeyFile {
  /** What the key is for, e.g. 'bls-consensus-secret', 'secp256k1-private', 'node-auth-private'. */
  readonly kind: string;
  /** e.g. 'bls12-381', 'secp256k1', 'ed25519', 'p384'. */
  readonly algorithm: string;
  readonly material: Uint8Array;
}

export interface KeyFileWriteOptions {
  /** Seal the material under this passphrase (scrypt + AES-256-GCM). */
  readonly passphrase?: string;
  readonly cost?: ScryptCost;
}

export async function writeKeyFile(path: string, keyFile: KeyFile, options: KeyFileWriteOptions = {}): Promise<void> {
  const header = { version: KEY_FILE_VERSION, kind: keyFile.kind, algorithm: keyFile.algorithm };
  let fields: Record<string, unknown> = { ...header, material: bytesToHex(keyFile.material) };
  if (options.passphrase !== undefined) {
    const sealed = await sealKey(keyFile.material, options.passphrase, sealAad(keyFile), options.cost ?? DEFAULT_SCRYPT_COST);
    const { ciphertext, salt, iv, tag, ...params } = sealed;
    const encryption = { ...params, salt: bytesToHex(salt), iv: bytesToHex(iv), tag: bytesToHex(tag) };
    fields = { ...header, encryption, material: bytesToHex(ciphertext) };
  }
  await writeFileDurably(path, JSON.stringify(fields, null, 2) + '\n', 0o600, 'key file');
}

/**
 * Writes `text` to `path` so that a crash leaves it whole or absent: a temp file beside it
 * (`.<name>.<12 hex>.tmp`), synced, renamed over `path`, the directory synced. `what` names the
 * file in the error (KEY_FILE_WRITE_FAILED).
 */
export async function writeFileDurably(path: string, text: string, mode: number, what = 'file'): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await syncDirectory(dirname(path));
  } catch (cause) {
    await rm(temp, { force: true });
    throw new BulwarkError('KEY_FILE_WRITE_FAILED', `cannot write ${what} ${path}`, { path }, { cause });
  }
}

export interface KeyFileReadOptions {
  readonly kind?: string;
  readonly algorithm?: string;
  /** Needed for sealed files; ignored for plain ones. */
  readonly passphrase?: string;
}

/** `expect` pins kind and algorithm so a key of the wrong sort is refused by name, not misused. */
export async function readKeyFile(path: string, expect: KeyFileReadOptions = {}): Promise<KeyFile> {
  const text = await readOwnerOnly(path);
  const parsed = parseKeyFile(path, text);
  const keyFile = { kind: parsed.kind, algorithm: parsed.algorithm, material: parsed.material };
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
  if (parsed.sealed === undefined) return keyFile;
  return { ...keyFile, material: await unseal(path, keyFile, parsed.sealed, expect.passphrase) };
}

/** True when the file at `path` is sealed under a passphrase (so a caller knows to ask for one). */
export async function isKeyFileSealed(path: string): Promise<boolean> {
  return parseKeyFile(path, await readOwnerOnly(path)).sealed !== undefined;
}

async function unseal(path: string, keyFile: KeyFile, sealed: SealedKey, passphrase: string | undefined): Promise<Uint8Array> {
  if (passphrase === undefined) {
    throw new BulwarkError('KEY_FILE_PASSPHRASE_REQUIRED', `key file ${path} is encrypted; a passphrase is needed`, { path });
  }
  try {
    return await openKey(sealed, passphrase, sealAad(keyFile));
  } catch (cause) {
    if (cause instanceof BulwarkError && cause.code === 'KEY_SEAL_WRONG_PASSPHRASE') {
      throw new BulwarkError('KEY_FILE_WRONG_PASSPHRASE', `wrong passphrase for key file ${path} (or the file was altered)`, { path }, { cause });
    }
    if (cause instanceof BulwarkError) {
      throw new BulwarkError('KEY_FILE_MALFORMED', `key file ${path} is malformed: ${cause.message}`, { path, why: cause.code }, { cause });
    }
    throw cause;
  }
}

/** Binds the ciphertext to what the file says it is. */
function sealAad(keyFile: Pick<KeyFile, 'kind' | 'algorithm'>): Uint8Array {
  return new TextEncoder().encode(`bulwark-key-file/v${KEY_FILE_VERSION}\0${keyFile.kind}\0${keyFile.algorithm}`);
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

interface ParsedKeyFile extends KeyFile {
  readonly sealed?: SealedKey;
}

function parseKeyFile(path: string, text: string): ParsedKeyFile {
  const malformed = (why: string, cause?: unknown): BulwarkError =>
    new BulwarkError('KEY_FILE_MALFORMED', `key file ${path} is malformed: ${why}`, { path, why }, { cause });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw malformed('not JSON', cause);
  }
  if (typeof json !== 'object' || json === null) throw malformed('not a JSON object');
  const { version, kind, algorithm, material, encryption } = json as Record<string, unknown>;
  if (version !== KEY_FILE_VERSION) throw malformed(`unsupported version ${String(version)}`);
  if (typeof kind !== 'string' || kind === '') throw malformed('missing kind');
  if (typeof algorithm !== 'string' || algorithm === '') throw malformed('missing algorithm');
  if (typeof material !== 'string' || material === '') throw malformed('missing material');
  let bytes: Uint8Array;
  try {
    bytes = hexToBytes(material);
  } catch (cause) {
    throw malformed('material is not hex', cause);
  }
  if (encryption === undefined) return { kind, algorithm, material: bytes };
  return { kind, algorithm, material: bytes, sealed: parseSealed(encryption, bytes, malformed) };
}

function parseSealed(encryption: unknown, ciphertext: Uint8Array, malformed: (why: string, cause?: unknown) => BulwarkError): SealedKey {
  if (typeof encryption !== 'object' || encryption === null) throw malformed('encryption is not an object');
  const e = encryption as Record<string, unknown>;
  if (e['cipher'] !== 'aes-256-gcm' || e['kdf'] !== 'scrypt') {
    throw malformed(`unsupported encryption ${String(e['cipher'])}/${String(e['kdf'])}`);
  }
  const int = (field: string): number => {
    const v = e[field];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw malformed(`encryption.${field} is not an integer`);
    return v;
  };
  const hex = (field: string): Uint8Array => {
    const v = e[field];
    try {
      if (typeof v !== 'string') throw new Error('not a string');
      return hexToBytes(v);
    } catch (cause) {
      throw malformed(`encryption.${field} is not hex`, cause);
    }
  };
  return {
    cipher: 'aes-256-gcm',
    kdf: 'scrypt',
    logN: int('logN'),
    r: int('r'),
    p: int('p'),
    salt: hex('salt'),
    iv: hex('iv'),
    tag: hex('tag'),
    ciphertext,
  };
}

/**
 * Makes a rename or unlink in `dir` durable; some file systems cannot open a directory, which is
 * fine (best effort: the file's own data was synced before).
 */
export async function syncDirectory(dir: string): Promise<void> {
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
