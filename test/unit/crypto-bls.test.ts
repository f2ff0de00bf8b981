import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isBulwarkError } from '../../src/common/errors.ts';
import { hexToBytes } from '../../src/crypto/hex.ts';
import { SignerBitVector } from '../../src/crypto/bitvector.ts';
import { BlsDomain, DOMAIN_CHECKPOINT, DOMAIN_CONSENSUS, DOMAIN_EXECUTION, DOMAIN_POP } from '../../src/crypto/bls-domain.ts';
import {
  aggregateBlsSignatures,
  blsPublicKeyFromBytes,
  blsPublicKeyOf,
  blsPublicKeyToBytes,
  blsSecretKeyFromBytes,
  blsSecretKeyToBytes,
  blsSign,
  blsSignatureFromBytes,
  blsSignatureToBytes,
  blsVerify,
  generateBlsSecretKey,
  provePossession,
  verifyAggregate,
  verifyPossession,
} from '../../src/crypto/bls.ts';

const msg = new TextEncoder().encode('view 3, seq 42, digest ...');
const P = 0x1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaabn;

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
/** A compressed G1 encoding of x whose curve equation y² = x³ + 4 does (or does not) have a root. */
function compressedG1WithX(onCurve: boolean): Uint8Array {
  for (let x = 1n; ; x++) {
    const isSquare = modPow((x ** 3n + 4n) % P, (P - 1n) / 2n, P) === 1n;
    if (isSquare !== onCurve) continue;
    const bytes = hexToBytes(x.toString(16).padStart(96, '0'));
    bytes[0]! |= 0x80; // compression flag
    return bytes;
  }
}
const reasonIs = (code: string, reason: string) => (e: unknown) => isBulwarkError(e, code) && e.details['reason'] === reason;

test('sign and verify; wrong message, key or domain fail', () => {
  const sk = generateBlsSecretKey();
  const pk = blsPublicKeyOf(sk);
  const sig = blsSign(DOMAIN_CONSENSUS, sk, msg);
  assert.equal(blsVerify(DOMAIN_CONSENSUS, pk, msg, sig), true);
  assert.equal(blsVerify(DOMAIN_CONSENSUS, pk, Uint8Array.of(...msg, 0), sig), false);
  assert.equal(blsVerify(DOMAIN_CONSENSUS, blsPublicKeyOf(generateBlsSecretKey()), msg, sig), false);
  for (const other of [DOMAIN_EXECUTION, DOMAIN_CHECKPOINT, DOMAIN_POP]) {
    assert.equal(blsVerify(other, pk, msg, sig), false, other.tag);
  }
});

test('domain framing is prefix-free and tags are unique', () => {
  const tags = [DOMAIN_CONSENSUS, DOMAIN_EXECUTION, DOMAIN_CHECKPOINT, DOMAIN_POP].map((d) => d.tag);
  assert.equal(new Set(tags).size, 4);
  const short = BlsDomain.define('T-AB');
  const long = BlsDomain.define('T-ABC');
  // Without the length byte, 'T-AB' || 'C...' and 'T-ABC' || '...' would be the same bytes.
  assert.notDeepEqual(short.frame(new TextEncoder().encode('Cxyz')), long.frame(new TextEncoder().encode('xyz')));
  assert.deepEqual(short.frame(Uint8Array.of(9)), Uint8Array.of(4, ...new TextEncoder().encode('T-AB'), 9));
  assert.throws(() => BlsDomain.define('T-AB'), (e) => isBulwarkError(e, 'BLS_DUPLICATE_DOMAIN'));
  for (const bad of ['', 'has space', 'x'.repeat(256), 'ünï']) {
    assert.throws(() => BlsDomain.define(bad), (e) => isBulwarkError(e, 'BLS_INVALID_DOMAIN'), bad);
  }
});

test('key generation: deterministic from IKM, at least 32 bytes of it', () => {
  const ikm = randomBytes(32);
  assert.deepEqual(blsSecretKeyToBytes(generateBlsSecretKey(ikm)), blsSecretKeyToBytes(generateBlsSecretKey(ikm)));
  assert.notDeepEqual(blsSecretKeyToBytes(generateBlsSecretKey()), blsSecretKeyToBytes(generateBlsSecretKey()));
  assert.throws(() => generateBlsSecretKey(randomBytes(31)), (e) => isBulwarkError(e, 'BLS_INVALID_IKM'));
});

test('secret keys round-trip; invalid ones are refused', () => {
  const sk = generateBlsSecretKey();
  const again = blsSecretKeyFromBytes(blsSecretKeyToBytes(sk));
  assert.deepEqual(blsPublicKeyToBytes(blsPublicKeyOf(again)), blsPublicKeyToBytes(blsPublicKeyOf(sk)));
  for (const bad of [new Uint8Array(32), new Uint8Array(32).fill(0xff), randomBytes(31), randomBytes(33)]) {
    assert.throws(() => blsSecretKeyFromBytes(bad), (e) => isBulwarkError(e, 'BLS_INVALID_SECRET_KEY'));
  }
});

test('public keys round-trip; identity, off-curve, off-subgroup and malformed keys are refused', () => {
  const pk = blsPublicKeyOf(generateBlsSecretKey());
  const bytes = blsPublicKeyToBytes(pk);
  assert.equal(bytes.length, 48);
  assert.deepEqual(blsPublicKeyToBytes(blsPublicKeyFromBytes(bytes)), bytes);

  const identity = new Uint8Array(48);
  identity[0] = 0xc0;
  assert.throws(() => blsPublicKeyFromBytes(identity), reasonIs('BLS_INVALID_PUBKEY', 'identity'));
  const offSubgroup = compressedG1WithX(true); // on E(Fp) but, with cofactor ~2^126, not in G1
  assert.throws(() => blsPublicKeyFromBytes(offSubgroup), reasonIs('BLS_INVALID_PUBKEY', 'not-in-subgroup'));
  assert.throws(() => blsPublicKeyFromBytes(compressedG1WithX(false)), (e) => isBulwarkError(e, 'BLS_INVALID_PUBKEY'));
  assert.throws(() => blsPublicKeyFromBytes(bytes.subarray(1)), reasonIs('BLS_INVALID_PUBKEY', 'length'));
  const uncompressed = blsPublicKeyOf(generateBlsSecretKey()).toBytes(false);
  assert.throws(() => blsPublicKeyFromBytes(uncompressed), reasonIs('BLS_INVALID_PUBKEY', 'length'));
  const noFlag = bytes.slice();
  noFlag[0]! &= 0x1f;
  assert.throws(() => blsPublicKeyFromBytes(noFlag), (e) => isBulwarkError(e, 'BLS_INVALID_PUBKEY'));
  const xAboveP = hexToBytes((P + 1n).toString(16).padStart(96, '0'));
  xAboveP[0]! |= 0x80;
  assert.throws(() => blsPublicKeyFromBytes(xAboveP), (e) => isBulwarkError(e, 'BLS_INVALID_PUBKEY'));
});

test('signatures round-trip; identity and malformed signatures are refused', () => {
  const sig = blsSign(DOMAIN_EXECUTION, generateBlsSecretKey(), msg);
  const bytes = blsSignatureToBytes(sig);
  assert.equal(bytes.length, 96);
  assert.deepEqual(blsSignatureToBytes(blsSignatureFromBytes(bytes)), bytes);
  const identity = new Uint8Array(96);
  identity[0] = 0xc0;
  assert.throws(() => blsSignatureFromBytes(identity), reasonIs('BLS_INVALID_SIGNATURE', 'identity'));
  assert.throws(() => blsSignatureFromBytes(bytes.subarray(2)), reasonIs('BLS_INVALID_SIGNATURE', 'length'));
  let refused = 0;
  for (let i = 0; i < 10; i++) {
    const junk = randomBytes(96);
    junk[0] = (junk[0]! & 0x1f) | 0x80;
    try {
      blsSignatureFromBytes(junk);
    } catch (e) {
      if (isBulwarkError(e, 'BLS_INVALID_SIGNATURE')) refused++;
    }
  }
  assert.equal(refused, 10); // a random x is off the curve or, if on it, off the subgroup
});

test('proof of possession: verifies for its own key only, and only in the PoP domain', () => {
  const sk = generateBlsSecretKey();
  const pk = blsPublicKeyOf(sk);
  const proof = provePossession(sk);
  assert.equal(verifyPossession(pk, proof), true);
  assert.equal(verifyPossession(blsPublicKeyOf(generateBlsSecretKey()), proof), false);
  assert.equal(verifyPossession(pk, provePossession(generateBlsSecretKey())), false);
  // The same key signing its own bytes in another domain is not a proof.
  assert.equal(verifyPossession(pk, blsSign(DOMAIN_CONSENSUS, sk, blsPublicKeyToBytes(pk))), false);
  // Nor is a PoP usable as a consensus signature over the key bytes.
  assert.equal(blsVerify(DOMAIN_CONSENSUS, pk, blsPublicKeyToBytes(pk), proof), false);
});

function committee(n: number) {
  const sks = Array.from({ length: n }, () => generateBlsSecretKey());
  return { sks, pks: sks.map(blsPublicKeyOf) };
}

test('verifyAggregate: the signers named by the bit-vector, one message', () => {
  const { sks, pks } = committee(7);
  const signers = [0, 2, 3, 6];
  const agg = aggregateBlsSignatures(signers.map((i) => blsSign(DOMAIN_CONSENSUS, sks[i]!, msg)));
  const bits = SignerBitVector.fromIndices(7, signers);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, agg, bits, pks), true);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, agg, bits, pks, 4), true);
  // Aggregated wire form survives a round trip.
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, blsSignatureFromBytes(blsSignatureToBytes(agg)), bits, pks), true);
  // Claiming a different signer set, message or domain fails.
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, agg, SignerBitVector.fromIndices(7, [0, 2, 3, 5]), pks), false);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, agg, SignerBitVector.fromIndices(7, [0, 2, 3]), pks), false);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, agg, SignerBitVector.fromIndices(7, [0, 1, 2, 3, 6]), pks), false);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, Uint8Array.of(1), agg, bits, pks), false);
  assert.equal(verifyAggregate(DOMAIN_CHECKPOINT, msg, agg, bits, pks), false);
  // Shares over different messages do not combine into a certificate for either.
  const mixed = aggregateBlsSignatures([blsSign(DOMAIN_CONSENSUS, sks[0]!, msg), blsSign(DOMAIN_CONSENSUS, sks[2]!, Uint8Array.of(1))]);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, mixed, SignerBitVector.fromIndices(7, [0, 2]), pks), false);
});

test('verifyAggregate: malformed certificates are typed errors', () => {
  const { sks, pks } = committee(4);
  const agg = aggregateBlsSignatures(sks.slice(0, 2).map((sk) => blsSign(DOMAIN_CONSENSUS, sk, msg)));
  const two = SignerBitVector.fromIndices(4, [0, 1]);
  assert.throws(() => verifyAggregate(DOMAIN_CONSENSUS, msg, agg, SignerBitVector.empty(4), pks), (e) => isBulwarkError(e, 'BLS_NO_SIGNERS'));
  assert.throws(
    () => verifyAggregate(DOMAIN_CONSENSUS, msg, agg, SignerBitVector.fromIndices(5, [0, 1]), pks),
    (e) => isBulwarkError(e, 'BLS_SIGNERS_LENGTH_MISMATCH'),
  );
  assert.throws(
    () => verifyAggregate(DOMAIN_CONSENSUS, msg, agg, two, pks.slice(0, 3)),
    (e) => isBulwarkError(e, 'BLS_SIGNERS_LENGTH_MISMATCH'),
  );
  assert.throws(
    () => verifyAggregate(DOMAIN_CONSENSUS, msg, agg, two, pks, 3),
    (e) => isBulwarkError(e, 'BLS_BELOW_QUORUM') && e.details['signers'] === 2 && e.details['required'] === 3,
  );
  assert.throws(() => aggregateBlsSignatures([]), (e) => isBulwarkError(e, 'BLS_EMPTY_AGGREGATE'));
});
