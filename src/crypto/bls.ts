/**
 * BLS12-381 multi-signatures over `@chainsafe/blst`, in the min-pk setting blst gives: public keys
 * in G1 (48 bytes compressed), signatures in G2 (96 bytes compressed).
 *
 * Security rests on two rules enforced here:
 * - every point from outside is checked on import (canonical compressed encoding, on the curve, in
 *   the prime-order subgroup, not the identity), and only checked points carry the `BlsPublicKey` /
 *   `BlsSignature` types, so verification need not re-check them;
 * - same-message aggregation (`verifyAggregate`) is only sound over keys whose proof of possession
 *   was verified when they were registered; without it a rogue key `a·G1 − pk_honest` lets one party
 *   forge an aggregate "signed by both" (see test/unit/crypto-bls-rogue-key.test.ts).
 */
import { randomBytes } from 'node:crypto';
import * as blst from '@chainsafe/blst';
import { BulwarkError } from '../common/errors.ts';
import { DOMAIN_POP, type BlsDomain } from './bls-domain.ts';
import type { SignerBitVector } from './bitvector.ts';

export const BLS_SECRET_KEY_LENGTH = 32;
export const BLS_PUBLIC_KEY_LENGTH = 48;
export const BLS_SIGNATURE_LENGTH = 96;

declare const checked: unique symbol;
/** A G1 point that passed `blsPublicKeyFromBytes` or came from a secret key: valid, never identity. */
export type BlsPublicKey = blst.PublicKey & { readonly [checked]: 'bls-public-key' };
/** A G2 point in the prime-order subgroup, from `blsSignatureFromBytes`, signing or aggregation. */
export type BlsSignature = blst.Signature & { readonly [checked]: 'bls-signature' };
export type BlsSecretKey = blst.SecretKey;

/** blst's error codes, in our words, so callers never see a library's vocabulary. */
function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'BLST_PK_IS_INFINITY':
      return 'identity';
    case 'BLST_POINT_NOT_IN_GROUP':
      return 'not-in-subgroup';
    case 'BLST_POINT_NOT_ON_CURVE':
      return 'not-on-curve';
    case 'BLST_BAD_ENCODING':
      return 'encoding';
    default:
      return 'invalid';
  }
}

/** From 32+ bytes of input keying material (IETF KeyGen); fresh randomness when none is given. */
export function generateBlsSecretKey(ikm: Uint8Array = randomBytes(32)): BlsSecretKey {
  if (ikm.length < 32) {
    throw new BulwarkError('BLS_INVALID_IKM', 'BLS key generation needs at least 32 bytes of keying material', {
      length: ikm.length,
    });
  }
  return blst.SecretKey.fromKeygen(ikm);
}

export function blsSecretKeyFromBytes(bytes: Uint8Array): BlsSecretKey {
  try {
    if (bytes.length !== BLS_SECRET_KEY_LENGTH) throw new Error('length');
    return blst.SecretKey.fromBytes(bytes);
  } catch (cause) {
    throw new BulwarkError('BLS_INVALID_SECRET_KEY', 'not a BLS secret key (32 bytes, 0 < k < r)', {}, { cause });
  }
}

export function blsSecretKeyToBytes(sk: BlsSecretKey): Uint8Array {
  return sk.toBytes();
}

export function blsPublicKeyOf(sk: BlsSecretKey): BlsPublicKey {
  return sk.toPublicKey() as BlsPublicKey; // k in 1..r-1, so k·G1 is a non-identity subgroup point
}

/** Accepts only the 48-byte compressed form, and only its canonical encoding. */
export function blsPublicKeyFromBytes(bytes: Uint8Array): BlsPublicKey {
  if (bytes.length !== BLS_PUBLIC_KEY_LENGTH) {
    throw new BulwarkError('BLS_INVALID_PUBKEY', 'a BLS public key is 48 bytes compressed', {
      reason: 'length',
      length: bytes.length,
    });
  }
  let pk: blst.PublicKey;
  try {
    pk = blst.PublicKey.fromBytes(bytes, true);
  } catch (cause) {
    throw new BulwarkError('BLS_INVALID_PUBKEY', 'invalid BLS public key', { reason: reasonOf(cause) }, { cause });
  }
  if (Buffer.compare(pk.toBytes(true), bytes) !== 0) {
    throw new BulwarkError('BLS_INVALID_PUBKEY', 'non-canonical BLS public key encoding', { reason: 'encoding' });
  }
  return pk as BlsPublicKey;
}

export function blsPublicKeyToBytes(pk: BlsPublicKey): Uint8Array {
  return pk.toBytes(true);
}

/** Accepts only the 96-byte compressed form; rejects the identity and points outside the subgroup. */
export function blsSignatureFromBytes(bytes: Uint8Array): BlsSignature {
  if (bytes.length !== BLS_SIGNATURE_LENGTH) {
    throw new BulwarkError('BLS_INVALID_SIGNATURE', 'a BLS signature is 96 bytes compressed', {
      reason: 'length',
      length: bytes.length,
    });
  }
  let sig: blst.Signature;
  try {
    sig = blst.Signature.fromBytes(bytes, true, true);
  } catch (cause) {
    throw new BulwarkError('BLS_INVALID_SIGNATURE', 'invalid BLS signature', { reason: reasonOf(cause) }, { cause });
  }
  if (Buffer.compare(sig.toBytes(true), bytes) !== 0) {
    throw new BulwarkError('BLS_INVALID_SIGNATURE', 'non-canonical BLS signature encoding', { reason: 'encoding' });
  }
  return sig as BlsSignature;
}

export function blsSignatureToBytes(sig: BlsSignature): Uint8Array {
  return sig.toBytes(true);
}

export function blsSign(domain: BlsDomain, sk: BlsSecretKey, message: Uint8Array): BlsSignature {
  return sk.sign(domain.frame(message)) as BlsSignature;
}

/** Never throws: a signature that does not verify is an answer, not an accident. */
export function blsVerify(domain: BlsDomain, pk: BlsPublicKey, message: Uint8Array, sig: BlsSignature): boolean {
  try {
    // Both points were checked when they became these types; re-checking would only cost time.
    return blst.verify(domain.frame(message), pk, sig, false, false);
  } catch {
    return false;
  }
}

export function aggregateBlsSignatures(sigs: readonly BlsSignature[]): BlsSignature {
  if (sigs.length === 0) throw new BulwarkError('BLS_EMPTY_AGGREGATE', 'cannot aggregate zero signatures');
  return blst.aggregateSignatures([...sigs], false) as BlsSignature;
}

/**
 * Sums signatures straight from their wire bytes, checking only that each decodes to a curve
 * point, not that it lies in the subgroup: that check (the costly part of decoding) is made once,
 * on the sum, when the aggregate is imported to be verified (`blsSignatureFromBytes`). A collector
 * combining n shares thus pays one subgroup check instead of n. Returns the encoded aggregate, or
 * null if a share is not a point at all.
 */
export function aggregateSerializedBlsSignatures(sigs: readonly Uint8Array[]): Uint8Array | null {
  if (sigs.length === 0) throw new BulwarkError('BLS_EMPTY_AGGREGATE', 'cannot aggregate zero signatures');
  try {
    return blst.aggregateSerializedSignatures([...sigs], false).toBytes();
  } catch {
    return null;
  }
}

/**
 * The sum of the keys. Sound for same-message verification only over keys with verified proofs of
 * possession. The sum may be the identity, so it is deliberately not a `BlsPublicKey`.
 */
export function aggregateBlsPublicKeys(pks: readonly BlsPublicKey[]): blst.PublicKey {
  if (pks.length === 0) throw new BulwarkError('BLS_EMPTY_AGGREGATE', 'cannot aggregate zero public keys');
  return blst.aggregatePublicKeys([...pks], false);
}

/** A key's signature over its own compressed public key, in the PoP domain only. */
export function provePossession(sk: BlsSecretKey): BlsSignature {
  return blsSign(DOMAIN_POP, sk, blsPublicKeyToBytes(blsPublicKeyOf(sk)));
}

/** Run before a key is registered (key exchange through consensus); refuse the key if false. */
export function verifyPossession(pk: BlsPublicKey, proof: BlsSignature): boolean {
  return blsVerify(DOMAIN_POP, pk, blsPublicKeyToBytes(pk), proof);
}

/**
 * Verifies an aggregate signature by the replicas set in `signers`, all over the same message:
 * sums their public keys and does one pairing check.
 *
 * PRECONDITION: every key in `publicKeys` had its proof of possession verified when it was
 * registered. This function cannot check that and does not try; without it, it is forgeable.
 *
 * Malformed certificates (no signers, a vector not sized for `publicKeys`, fewer than `minSigners`)
 * throw typed errors, so the caller can count them by reason; a well-formed certificate whose
 * signature does not verify returns false.
 */
export function verifyAggregate(
  domain: BlsDomain,
  message: Uint8Array,
  aggregateSig: BlsSignature,
  signers: SignerBitVector,
  publicKeys: readonly BlsPublicKey[],
  minSigners = 1,
): boolean {
  const chosen = signerKeys(signers, publicKeys, minSigners);
  try {
    // pkValidate on the sum: an identity aggregate verifies nothing and must not verify anything.
    return blst.verify(domain.frame(message), aggregateBlsPublicKeys(chosen), aggregateSig, true, false);
  } catch {
    return false;
  }
}

/** One aggregate to check in `verifyAggregates`. */
export interface AggregateCheck {
  readonly domain: BlsDomain;
  readonly message: Uint8Array;
  readonly signature: BlsSignature;
  readonly signers: SignerBitVector;
  readonly minSigners: number;
}

/**
 * Checks several aggregates at once with blst's randomised batch verification: one final
 * exponentiation for all of them, about half the cost of checking each. True only if every one is
 * valid (false says nothing about which failed: check them one by one). Same precondition on keys
 * as `verifyAggregate`.
 */
export function verifyAggregates(checks: readonly AggregateCheck[], publicKeys: readonly BlsPublicKey[]): boolean {
  try {
    const sets = checks.map((c) => {
      const pk = aggregateBlsPublicKeys(signerKeys(c.signers, publicKeys, c.minSigners));
      return { msg: c.domain.frame(c.message), pk, sig: c.signature };
    });
    return blst.verifyMultipleAggregateSignatures(sets, true, false);
  } catch {
    return false;
  }
}

function signerKeys(signers: SignerBitVector, publicKeys: readonly BlsPublicKey[], minSigners: number): BlsPublicKey[] {
  if (signers.size !== publicKeys.length) {
    throw new BulwarkError('BLS_SIGNERS_LENGTH_MISMATCH', 'signer bit-vector does not match the key set', {
      bits: signers.size,
      keys: publicKeys.length,
    });
  }
  const chosen: BlsPublicKey[] = [];
  for (const i of signers.indices()) {
    const pk = publicKeys[i];
    if (pk === undefined) {
      throw new BulwarkError('BLS_SIGNER_OUT_OF_RANGE', `signer ${i} has no public key`, { index: i });
    }
    chosen.push(pk);
  }
  if (chosen.length === 0) throw new BulwarkError('BLS_NO_SIGNERS', 'an aggregate needs at least one signer');
  if (chosen.length < minSigners) {
    throw new BulwarkError('BLS_BELOW_QUORUM', `${chosen.length} signers, ${minSigners} required`, {
      signers: chosen.length,
      required: minSigners,
    });
  }
  return chosen;
}
