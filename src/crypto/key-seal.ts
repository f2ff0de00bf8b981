/**
 * Key material encrypted at rest under a passphrase: scrypt derives a 256-bit key, AES-256-GCM
 * encrypts. The key file's identity (version, kind, algorithm) is the GCM additional data, so a sealed
 * key cannot be relabelled as a key of another kind without the tag failing.
 *
 * A wrong passphrase and a tampered file are the same failure to GCM; the error says both.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { BulwarkError } from '../common/errors.ts';

export interface ScryptCost {
  /** log2 of scrypt's N; memory is 128·N·r bytes (17 → 128 MiB with r = 8). */
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/** OWASP's recommendation for scrypt: about half a second and 128 MiB per key on a server. */
export const DEFAULT_SCRYPT_COST: ScryptCost = { logN: 17, r: 8, p: 1 };

/** Bounds on what a file may ask for, so a crafted file cannot make the reader allocate gigabytes. */
const LIMITS = { logN: [10, 20], r: [1, 16], p: [1, 4] } as const;

export interface SealedKey {
  readonly cipher: 'aes-256-gcm';
  readonly kdf: 'scrypt';
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Uint8Array;
  readonly iv: Uint8Array;
  readonly tag: Uint8Array;
  readonly ciphertext: Uint8Array;
}

export async function sealKey(material: Uint8Array, passphrase: string, aad: Uint8Array, cost: ScryptCost = DEFAULT_SCRYPT_COST): Promise<SealedKey> {
  checkPassphrase(passphrase);
  checkCost(cost);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = await deriveKey(passphrase, salt, cost);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(material), cipher.final()]);
  return { cipher: 'aes-256-gcm', kdf: 'scrypt', ...cost, salt, iv, tag: cipher.getAuthTag(), ciphertext };
}

/** Throws KEY_SEAL_WRONG_PASSPHRASE when the tag fails (wrong passphrase, or the file was altered). */
export async function openKey(sealed: SealedKey, passphrase: string, aad: Uint8Array): Promise<Uint8Array> {
  checkPassphrase(passphrase);
  checkCost(sealed);
  if (sealed.iv.length !== 12 || sealed.tag.length !== 16 || sealed.salt.length < 16) {
    throw new BulwarkError('KEY_SEAL_MALFORMED', 'sealed key has a bad salt, iv or tag length');
  }
  const key = await deriveKey(passphrase, sealed.salt, sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]));
  } catch (cause) {
    throw new BulwarkError('KEY_SEAL_WRONG_PASSPHRASE', 'wrong passphrase, or the key file was altered', {}, { cause });
  }
}

function deriveKey(passphrase: string, salt: Uint8Array, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.logN;
  const options: ScryptOptions = { N, r: cost.r, p: cost.p, maxmem: 256 * N * cost.r };
  return new Promise((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), salt, 32, options, (err, key) => (err === null ? resolve(key) : reject(err))),
  );
}

function checkPassphrase(passphrase: string): void {
  if (passphrase.length === 0) throw new BulwarkError('KEY_SEAL_EMPTY_PASSPHRASE', 'the passphrase is empty');
}

function checkCost(cost: ScryptCost): void {
  for (const field of ['logN', 'r', 'p'] as const) {
    const [min, max] = LIMITS[field];
    const v = cost[field];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new BulwarkError('KEY_SEAL_BAD_COST', `scrypt ${field} must be an integer in ${min}..${max}, got ${v}`, { field, value: v });
    }
  }
}
