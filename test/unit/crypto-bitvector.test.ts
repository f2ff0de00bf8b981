import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { MAX_SIGNERS, SignerBitVector } from '../../src/crypto/bitvector.ts';

const code = (c: string) => (e: unknown) => isBulwarkError(e, c);

test('layout: bit i is bit (i mod 8), LSB first, of byte i / 8', () => {
  const v = SignerBitVector.fromIndices(10, [0, 3, 8, 9]);
  assert.deepEqual(v.encode(), Uint8Array.of(0b0000_1001, 0b0000_0011));
  assert.equal(v.count(), 4);
  assert.deepEqual([...v.indices()], [0, 3, 8, 9]);
  assert.equal(v.has(3), true);
  assert.equal(v.has(4), false);
});

test('round trips for every size up to 40 and random sets', () => {
  for (let n = 1; n <= 40; n++) {
    const set = Array.from({ length: n }, (_, i) => i).filter(() => Math.random() < 0.5);
    const v = SignerBitVector.fromIndices(n, set);
    const bytes = v.encode();
    assert.equal(bytes.length, Math.ceil(n / 8));
    const back = SignerBitVector.decode(n, bytes);
    assert.ok(back.equals(v));
    assert.deepEqual([...back.indices()], set);
    assert.equal(back.count(), set.length);
  }
});

test('immutable: with() returns a new vector, encode() a copy', () => {
  const empty = SignerBitVector.empty(4);
  const one = empty.with(2);
  assert.equal(empty.count(), 0);
  assert.deepEqual([...one.indices()], [2]);
  const bytes = one.encode();
  bytes[0] = 0xff;
  assert.deepEqual([...one.indices()], [2]);
  const input = Uint8Array.of(0b0101);
  const decoded = SignerBitVector.decode(4, input);
  input[0] = 0;
  assert.equal(decoded.count(), 2);
  assert.ok(SignerBitVector.fromIndices(4, [2, 2]).equals(one)); // a repeated index is one signer
  assert.ok(!one.equals(SignerBitVector.fromIndices(5, [2])));
});

test('decode rejects the wrong length and non-zero padding', () => {
  assert.throws(() => SignerBitVector.decode(10, Uint8Array.of(1)), code('BITVECTOR_BAD_LENGTH'));
  assert.throws(() => SignerBitVector.decode(10, Uint8Array.of(1, 0, 0)), code('BITVECTOR_BAD_LENGTH'));
  assert.throws(() => SignerBitVector.decode(8, new Uint8Array()), code('BITVECTOR_BAD_LENGTH'));
  assert.throws(() => SignerBitVector.decode(10, Uint8Array.of(0, 0b0000_0100)), code('BITVECTOR_NONZERO_PADDING'));
  assert.throws(() => SignerBitVector.decode(1, Uint8Array.of(0b1000_0000)), code('BITVECTOR_NONZERO_PADDING'));
  assert.doesNotThrow(() => SignerBitVector.decode(10, Uint8Array.of(0xff, 0b0000_0011)));
  assert.doesNotThrow(() => SignerBitVector.decode(16, Uint8Array.of(0xff, 0xff)));
});

test('sizes and indices out of range are typed errors', () => {
  for (const n of [0, -1, 1.5, MAX_SIGNERS + 1, Number.NaN]) {
    assert.throws(() => SignerBitVector.empty(n), code('BITVECTOR_INVALID_SIZE'), String(n));
  }
  const v = SignerBitVector.empty(4);
  for (const i of [-1, 4, 1.5]) {
    assert.throws(() => v.has(i), code('BITVECTOR_INDEX_OUT_OF_RANGE'));
    assert.throws(() => v.with(i), code('BITVECTOR_INDEX_OUT_OF_RANGE'));
    assert.throws(() => SignerBitVector.fromIndices(4, [0, i]), code('BITVECTOR_INDEX_OUT_OF_RANGE'));
  }
});
