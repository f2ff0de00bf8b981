/**
 * The rogue-key attack on same-message BLS aggregation, and why proofs of possession stop it.
 *
 * @chainsafe/blst exposes no point arithmetic, so the attacker's key is built with @noble/curves
 * (already in node_modules through @ethereumjs); everything verified goes through src/crypto.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as blst from '@chainsafe/blst';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { bytesToHex } from '../../src/crypto/hex.ts';
import { SignerBitVector } from '../../src/crypto/bitvector.ts';
import { DOMAIN_CONSENSUS, DOMAIN_POP } from '../../src/crypto/bls-domain.ts';
import {
  aggregateBlsPublicKeys,
  blsPublicKeyFromBytes,
  blsPublicKeyOf,
  blsPublicKeyToBytes,
  blsSecretKeyToBytes,
  blsSign,
  blsSignatureFromBytes,
  blsSignatureToBytes,
  blsVerify,
  generateBlsSecretKey,
  provePossession,
  verifyAggregate,
  verifyPossession,
  type BlsPublicKey,
  type BlsSecretKey,
  type BlsSignature,
} from '../../src/crypto/bls.ts';

const G1 = bls12_381.G1.Point;
const G2 = bls12_381.G2.Point;
const scalarOf = (sk: BlsSecretKey): bigint => BigInt('0x' + bytesToHex(blsSecretKeyToBytes(sk)));
const msg = new TextEncoder().encode('commit: view 0, seq 7, digest 0xabc');

// Honest replica h; attacker knows only its own secret a and h's public key.
const honestSk = generateBlsSecretKey();
const honestPk = blsPublicKeyOf(honestSk);
const a = generateBlsSecretKey();
const rogueBytes = G1.BASE.multiply(scalarOf(a))
  .subtract(G1.fromBytes(blsPublicKeyToBytes(honestPk)))
  .toBytes(true);

/** What a replica does with a key published through key exchange: no valid PoP, no registration. */
function register(pk: BlsPublicKey, proof: BlsSignature, registry: BlsPublicKey[]): boolean {
  if (!verifyPossession(pk, proof)) return false;
  registry.push(pk);
  return true;
}

test('cross-check: blst agrees with an independent implementation on our framing', () => {
  const framed = DOMAIN_CONSENSUS.frame(msg);
  const hashed = bls12_381.longSignatures.hash(framed, 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_');
  const nobleSig = bls12_381.longSignatures.sign(hashed, blsSecretKeyToBytes(honestSk)).toBytes(true);
  assert.equal(bytesToHex(nobleSig), bytesToHex(blsSignatureToBytes(blsSign(DOMAIN_CONSENSUS, honestSk, msg))));
});

test('the rogue key is a valid point: import checks alone do not stop it', () => {
  const roguePk = blsPublicKeyFromBytes(rogueBytes);
  assert.notEqual(bytesToHex(rogueBytes), bytesToHex(blsPublicKeyToBytes(honestPk)));
  // pk_h + pk_r = a·G1, a key the attacker fully controls.
  const sum = aggregateBlsPublicKeys([honestPk, roguePk]).toBytes(true);
  assert.equal(bytesToHex(sum), bytesToHex(blsPublicKeyToBytes(blsPublicKeyOf(a))));
});

test('without PoP, a signature by the attacker alone verifies as "signed by both"', () => {
  const roguePk = blsPublicKeyFromBytes(rogueBytes);
  const forged = blsSign(DOMAIN_CONSENSUS, a, msg); // the honest key never signed anything
  const both = SignerBitVector.fromIndices(2, [0, 1]);
  assert.equal(verifyAggregate(DOMAIN_CONSENSUS, msg, forged, both, [honestPk, roguePk], 2), true);
  // The library's own fast-aggregate check is fooled the same way: PoP is the caller's job.
  assert.equal(blst.fastAggregateVerify(DOMAIN_CONSENSUS.frame(msg), [honestPk, roguePk], forged), true);
});

test('with PoP at registration, the rogue key is refused and the honest one accepted', () => {
  const roguePk = blsPublicKeyFromBytes(rogueBytes);
  const registry: BlsPublicKey[] = [];
  assert.equal(register(honestPk, provePossession(honestSk), registry), true);
  const attempts: Array<[string, BlsSignature]> = [
    ['a signs pk_r under the PoP domain', blsSign(DOMAIN_POP, a, rogueBytes)],
    ["a's own PoP (for a·G1)", provePossession(a)],
    ["the honest replica's PoP, replayed", provePossession(honestSk)],
    ['a signs pk_r under the consensus domain', blsSign(DOMAIN_CONSENSUS, a, rogueBytes)],
  ];
  for (const [name, proof] of attempts) {
    assert.equal(register(roguePk, proof, registry), false, name);
  }
  assert.deepEqual(registry.map(blsPublicKeyToBytes), [blsPublicKeyToBytes(honestPk)]);
});

test('a PoP for pk_r needs the honest key to sign pk_r in the PoP domain; no other signature helps', () => {
  const roguePk = blsPublicKeyFromBytes(rogueBytes);
  // The secret of pk_r is a − h, so its PoP is a·H(pop‖pk_r) − h·H(pop‖pk_r). Suppose the attacker
  // tricks the honest replica into signing pk_r's bytes as a consensus message: wrong hash point.
  const mine = G2.fromBytes(blsSignatureToBytes(blsSign(DOMAIN_POP, a, rogueBytes)));
  const tricked = G2.fromBytes(blsSignatureToBytes(blsSign(DOMAIN_CONSENSUS, honestSk, rogueBytes)));
  const attempt = blsSignatureFromBytes(mine.subtract(tricked).toBytes(true));
  assert.equal(verifyPossession(roguePk, attempt), false);
  // Control: were the honest key ever to sign pk_r in the PoP domain, the forgery would work, which
  // shows the construction above is the right one and that the domain is what protects it.
  const leaked = G2.fromBytes(blsSignatureToBytes(blsSign(DOMAIN_POP, honestSk, rogueBytes)));
  assert.equal(verifyPossession(roguePk, blsSignatureFromBytes(mine.subtract(leaked).toBytes(true))), true);
  assert.equal(blsVerify(DOMAIN_POP, roguePk, rogueBytes, attempt), false);
});
