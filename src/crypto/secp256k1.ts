/**
 * secp256k1 for Ethereum transactions, over the native `secp256k1` package (libsecp256k1).
 *
 * The package quietly falls back to a pure-JS implementation (elliptic) when its native binding fails
 * to load, which is correct but an order of magnitude slower at the one operation every transaction
 * needs (sender recovery); start-up calls `assertNativeSecp256k1()` so that never goes unnoticed.
 *
 * `ecrecover` and `ecsignForEthereumjs` are drop-in replacements for `customCrypto.ecrecover` and
 * `customCrypto.ecsign` of `@ethereumjs/common`, so the EVM and transaction validation use the native
 * code; they must accept and reject exactly what the ethereumjs defaults (noble) do.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import secp from 'secp256k1';
import type { CustomCrypto } from '@ethereumjs/common';
import { BulwarkError } from '../common/errors.ts';
import { keccak256, sha256 } from './hash.ts';

export type Secp256k1Backend = 'native' | 'js';

export interface EcdsaSignature {
  readonly r: Uint8Array; // 32 bytes, big-endian
  readonly s: Uint8Array; // 32 bytes, big-endian, always low-s (libsecp256k1 normalises)
  readonly v: bigint; // recovery id, 0n or 1n
}

const require = createRequire(import.meta.url);

/** Which implementation `secp256k1` resolved to: the package's own entry picks bindings or elliptic. */
export function secp256k1Backend(): Secp256k1Backend {
  try {
    return require('secp256k1/bindings') === secp ? 'native' : 'js';
  } catch {
    return 'js';
  }
}

export function assertNativeSecp256k1(): void {
  if (secp256k1Backend() !== 'native') {
    throw new BulwarkError('SECP256K1_NOT_NATIVE', 'the native secp256k1 binding did not load; refusing the pure-JS fallback');
  }
}

/** ethereumjs' `calculateSigRecovery`: 0/1 (typed txs), 27/28 (pre-EIP-155), or chainId*2+35/36. */
function recoveryId(v: bigint, chainId: bigint | undefined): number {
  let recovery: bigint;
  if (v === 0n || v === 1n) recovery = v;
  else if (chainId === undefined) recovery = v - 27n;
  else recovery = v - (chainId * 2n + 35n);
  if (recovery !== 0n && recovery !== 1n) {
    // Same message as @ethereumjs/util so logs read the same whichever implementation ran.
    throw new BulwarkError('SECP256K1_INVALID_V', 'Invalid signature v value', { v: v.toString() });
  }
  return Number(recovery);
}

/** setLengthLeft(x, 32) without truncation, as ethereumjs does for r and s. */
function leftPad32(bytes: Uint8Array, name: string): Uint8Array {
  if (bytes.length > 32) {
    throw new BulwarkError('SECP256K1_INVALID_SIGNATURE', `${name} is longer than 32 bytes`, { length: bytes.length });
  }
  const out = new Uint8Array(32);
  out.set(bytes, 32 - bytes.length);
  return out;
}

/**
 * noble's bits2int on the digest: the leftmost 256 bits of a longer input, a shorter one taken as a
 * number. libsecp256k1 wants exactly 32 bytes and reduces mod n itself, as noble does.
 */
function digest32(msgHash: Uint8Array): Uint8Array {
  if (msgHash.length > 8192) {
    throw new BulwarkError('SECP256K1_INVALID_DIGEST', 'message hash too large', { length: msgHash.length });
  }
  return msgHash.length >= 32 ? msgHash.subarray(0, 32) : leftPad32(msgHash, 'message hash');
}

/**
 * Public key recovery with exactly the semantics of `@ethereumjs/util`'s `ecrecover`: returns the
 * 64-byte uncompressed key without its 0x04 prefix. High-s is accepted, as there: rejecting it is
 * the transaction validator's rule (EIP-2), not recovery's.
 */
export function ecrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array, chainId?: bigint): Uint8Array {
  const signature = new Uint8Array(64);
  signature.set(leftPad32(r, 'r'), 0);
  signature.set(leftPad32(s, 's'), 32);
  const recid = recoveryId(v, chainId);
  try {
    return secp.ecdsaRecover(signature, recid, digest32(msgHash), false).slice(1);
  } catch (cause) {
    throw new BulwarkError('SECP256K1_RECOVERY_FAILED', 'no public key recovers from this signature', {}, { cause });
  }
}

function assertPrivateKey(privateKey: Uint8Array): void {
  if (privateKey.length !== 32 || !secp.privateKeyVerify(privateKey)) {
    throw new BulwarkError('SECP256K1_INVALID_PRIVATE_KEY', 'not a secp256k1 private key (32 bytes, 0 < k < n)');
  }
}

/** Deterministic (RFC 6979) low-s signature over a 32-byte digest. */
export function ecsign(msgHash: Uint8Array, privateKey: Uint8Array, extraEntropy?: Uint8Array): EcdsaSignature {
  if (msgHash.length !== 32) {
    throw new BulwarkError('SECP256K1_INVALID_DIGEST', 'ecsign signs a 32-byte digest', { length: msgHash.length });
  }
  assertPrivateKey(privateKey);
  const options = extraEntropy === undefined ? {} : { data: extraEntropy };
  const { signature, recid } = secp.ecdsaSign(msgHash, privateKey, options);
  return { r: signature.slice(0, 32), s: signature.slice(32, 64), v: BigInt(recid) };
}

type NobleSign = NonNullable<CustomCrypto['ecsign']>;
type NobleSignOpts = NonNullable<Parameters<NobleSign>[2]>;

function entropyOf(extra: NobleSignOpts['extraEntropy']): Uint8Array | undefined {
  if (extra === undefined || extra === false) return undefined;
  if (extra === true) return randomBytes(32);
  if (extra.length !== 32) {
    throw new BulwarkError('SECP256K1_INVALID_ENTROPY', 'extra entropy must be 32 bytes', { length: extra.length });
  }
  return extra;
}

/**
 * `customCrypto.ecsign`: noble's `secp256k1.sign(message, secretKey, opts)` contract, which
 * ethereumjs calls with `{format: 'recovered', prehash: false}` and decodes as recovery || r || s.
 * noble's defaults are kept (prehash with SHA-256 unless told not to); `lowS: false` only permits
 * high-s, so the always-low-s native output satisfies it.
 */
export const ecsignForEthereumjs: NobleSign = (message, secretKey, opts = {}) => {
  const digest = opts.prehash === false ? message : sha256(message);
  const { r, s, v } = ecsign(digest, secretKey, entropyOf(opts.extraEntropy));
  const compact = new Uint8Array(64);
  compact.set(r, 0);
  compact.set(s, 32);
  switch (opts.format ?? 'compact') {
    case 'compact':
      return compact;
    case 'recovered':
      return Uint8Array.of(Number(v), ...compact);
    case 'der':
      return new Uint8Array(secp.signatureExport(compact));
  }
};

export function generateSecp256k1PrivateKey(): Uint8Array {
  for (;;) {
    const candidate = randomBytes(32);
    if (secp.privateKeyVerify(candidate)) return new Uint8Array(candidate);
  }
}

/** The 64-byte uncompressed public key without its 0x04 prefix (Ethereum's form). */
export function privateKeyToPublicKey(privateKey: Uint8Array): Uint8Array {
  assertPrivateKey(privateKey);
  return secp.publicKeyCreate(privateKey, false).slice(1);
}

/** keccak256 of the 64-byte key, last 20 bytes. Checks length only, like ethereumjs' publicToAddress. */
export function publicKeyToAddress(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== 64) {
    throw new BulwarkError('SECP256K1_INVALID_PUBKEY', 'expected a 64-byte uncompressed public key without prefix', {
      length: publicKey.length,
    });
  }
  return keccak256(publicKey).slice(-20);
}

export function privateKeyToAddress(privateKey: Uint8Array): Uint8Array {
  return publicKeyToAddress(privateKeyToPublicKey(privateKey));
}

/**
 * The primitives to hand to `@ethereumjs/common` as `customCrypto`. keccak256 needs `initHashes()`
 * to have resolved before the first call, as everywhere.
 */
export function ethereumCustomCrypto(): CustomCrypto {
  return { keccak256, sha256, ecrecover, ecsign: ecsignForEthereumjs };
}
