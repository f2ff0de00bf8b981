// The production ConsensusCrypto over BLS12-381 and Ed25519.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commitShareBytes } from '../../src/codec/signing.ts';
import { addPublishedKey } from '../../src/consensus/keys.ts';
import { RealKeys } from '../sim/harness/real-keys.ts';

const keys = new RealKeys(4, 1, 7);
const c = [0, 1, 2, 3].map((i) => keys.cryptoFor(i));
const msg = commitShareBytes(3, 9, new Uint8Array(32).fill(1));

test('shares combine into a certificate that verifies with the signers and the quorum', () => {
  const shares = [0, 1, 2].map((i) => ({ replica: i, signature: c[i]!.sign('consensus', msg, 9) }));
  const cert = c[0]!.combine(shares);
  assert.ok(c[3]!.verifyCertificate('consensus', msg, cert, 3, 9));
  assert.ok(!c[3]!.verifyCertificate('consensus', msg, cert, 4, 9), 'below the quorum');
  assert.ok(!c[3]!.verifyCertificate('checkpoint', msg, cert, 3, 9), 'another domain');
  assert.ok(!c[3]!.verifyCertificate('consensus', commitShareBytes(4, 9, new Uint8Array(32).fill(1)), cert, 3, 9), 'another view');
});

test('a forged bit-vector, a bad share or garbage fail without throwing', () => {
  const shares = [0, 1, 2].map((i) => ({ replica: i, signature: c[i]!.sign('consensus', msg, 9) }));
  const cert = c[0]!.combine(shares);
  assert.ok(!c[3]!.verifyCertificate('consensus', msg, { ...cert, signers: new Uint8Array([0b1111]) }, 3, 9));
  assert.ok(!c[3]!.verifyCertificate('consensus', msg, { ...cert, signers: new Uint8Array([0b10111]) }, 3, 9), 'padding bits');
  const bad = [...shares.slice(0, 2), { replica: 2, signature: c[3]!.sign('consensus', msg, 9) }];
  assert.ok(!c[3]!.verifyCertificate('consensus', msg, c[0]!.combine(bad), 3, 9));
  assert.ok(!c[3]!.verifyShare('consensus', 2, msg, bad[2]!.signature, 9));
  assert.ok(c[3]!.verifyShare('consensus', 3, msg, bad[2]!.signature, 9));
  assert.ok(!c[3]!.verifyCertificate('consensus', msg, { signers: new Uint8Array([7]), signature: new Uint8Array(96).fill(9) }, 3, 9));
  assert.ok(!c[3]!.verifyShare('consensus', 9, msg, shares[0]!.signature, 9), 'no such replica');
  assert.ok(!c[3]!.verifyShare('consensus', 0, msg, new Uint8Array(5), 9));
});

test('execution signatures and client requests (Ed25519)', () => {
  const sig = c[1]!.signExecution(msg, 1);
  assert.ok(c[0]!.verifyExecution(1, msg, sig, 1));
  assert.ok(!c[0]!.verifyExecution(2, msg, sig, 1));
  const unsigned = { clientId: 4, requestSeq: 1, flags: 0, payload: new Uint8Array([1]) };
  const request = { ...unsigned, signature: keys.signClientRequest(unsigned) };
  assert.ok(c[2]!.verifyRequest(request, 1));
  assert.ok(!c[2]!.verifyRequest({ ...request, requestSeq: 2 }, 1));
  assert.ok(!c[2]!.verifyRequest({ ...request, clientId: 5 }, 1));
});

test('preverify remembers a batch only if every certificate in it is valid', () => {
  const crypto = keys.cryptoFor(0);
  const cert = (m: Uint8Array, who: number[]) => crypto.combine(who.map((i) => ({ replica: i, signature: c[i]!.sign('consensus', m, 9) })));
  const m2 = commitShareBytes(3, 10, new Uint8Array(32).fill(2));
  const good = [
    { domain: 'consensus' as const, message: msg, cert: cert(msg, [0, 1, 2, 3]), minSigners: 4, seq: 9 },
    { domain: 'consensus' as const, message: m2, cert: cert(m2, [1, 2, 3]), minSigners: 3, seq: 9 },
  ];
  crypto.preverify!(good);
  for (const g of good) assert.ok(crypto.verifyCertificate(g.domain, g.message, g.cert, g.minSigners, 9));
  // One forged certificate in the batch: nothing is remembered, and the forgery still fails alone.
  const forged = { ...good[1]!, cert: { ...good[1]!.cert, signers: new Uint8Array([0b1111]) }, minSigners: 3 };
  const fresh = keys.cryptoFor(0);
  fresh.preverify!([good[0]!, forged]);
  assert.ok(!fresh.verifyCertificate(forged.domain, forged.message, forged.cert, 3, 9));
  assert.ok(fresh.verifyCertificate(good[0]!.domain, good[0]!.message, good[0]!.cert, 4, 9), 'checked alone');
  // A certificate cached for a smaller quorum does not pass for a larger one.
  crypto.preverify!(good);
  assert.ok(!crypto.verifyCertificate(good[1]!.domain, good[1]!.message, good[1]!.cert, 4, 9));
});

test('published keys: taken only with a valid proof of possession, in effect from their sequence number on', () => {
  const k = new RealKeys(4, 1, 11);
  const histories = [0, 1, 2, 3].map(() => k.keyHistory());
  const cs = [0, 1, 2, 3].map((i) => k.cryptoFor(i, histories[i]));
  const fresh = k.newConsensusKey(2, 1);
  const record = { replica: 2, epoch: 1, publicKey: fresh.publicKey, effectiveSeq: 451, publishedSeq: 140, proofOfPossession: fresh.proofOfPossession };
  // A rogue key: another key's proof, or a proof over another key, is refused everywhere.
  const other = k.newConsensusKey(3, 1);
  assert.equal(cs[0]!.possessedKey({ ...record, proofOfPossession: other.proofOfPossession }), null);
  assert.ok(!addPublishedKey(histories[0]!, cs[0]!, { ...record, publicKey: other.publicKey }));
  assert.ok(!addPublishedKey(histories[0]!, cs[0]!, { ...record, publicKey: new Uint8Array(48).fill(7) }), 'not a curve point');
  // Each replica's state adds it to its history; its crypto, made over that history, verifies with it.
  for (const [i, c] of cs.entries()) assert.ok(addPublishedKey(histories[i]!, c, record));
  cs[2]!.addSecret(1);
  assert.equal(histories[0]!.consensus.recordAt(2, 450).epoch, 0);
  assert.equal(histories[0]!.consensus.recordAt(2, 451).epoch, 1);
  assert.equal(histories[0]!.consensus.exchangedCount(), 1);
  // Replica 2 signs 450 with its bootstrap key and 451 with the new one; each verifies only at its own sequence number.
  const m = commitShareBytes(1, 451, new Uint8Array(32).fill(3));
  const before = cs[2]!.sign('consensus', m, 450);
  const after = cs[2]!.sign('consensus', m, 451);
  assert.ok(cs[0]!.verifyShare('consensus', 2, m, before, 450));
  assert.ok(!cs[0]!.verifyShare('consensus', 2, m, before, 451), 'a retired key signs nothing after its successor took effect');
  assert.ok(cs[0]!.verifyShare('consensus', 2, m, after, 451));
  // Certificates combine each signer's key in effect at the sequence number.
  const cert = cs[0]!.combine([0, 1, 2].map((i) => ({ replica: i, signature: cs[i]!.sign('consensus', m, 451) })));
  assert.ok(cs[3]!.verifyCertificate('consensus', m, cert, 3, 451));
  assert.ok(!cs[3]!.verifyCertificate('consensus', m, cert, 3, 450));
  // Once the secret is forgotten, the replica cannot sign where the old key was in effect.
  cs[2]!.forgetSecret(0);
  assert.throws(() => cs[2]!.sign('consensus', m, 450));
  assert.equal(cs[2]!.canSign(451), true);
});
