import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes, keccak256, sha256, sha3_256 } from '../../src/crypto/hash.ts';
import { bytesToHex, hexToBytes } from '../../src/crypto/hex.ts';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Runs first: each test file is its own process, so the hasher is not initialised yet.
test('keccak256 before initHashes() is a typed error', () => {
  assert.throws(() => keccak256(new Uint8Array()), (e) => isBulwarkError(e, 'CRYPTO_NOT_INITIALISED'));
});

test('known vectors', async () => {
  await initHashes();
  assert.equal(bytesToHex(keccak256(new Uint8Array())), 'c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
  assert.equal(bytesToHex(keccak256(utf8('abc'))), '4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');
  assert.equal(bytesToHex(sha256(utf8('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(bytesToHex(sha3_256(utf8('abc'))), '3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532');
  assert.equal(bytesToHex(sha3_256(new Uint8Array())), 'a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a');
});

test('keccak256 reuses its hasher without carrying state between calls', async () => {
  await initHashes();
  const first = keccak256(utf8('abc'));
  keccak256(utf8('something else entirely'));
  assert.deepEqual(keccak256(utf8('abc')), first);
});

test('hex codec is strict', () => {
  assert.deepEqual(hexToBytes('0x00ff10'), Uint8Array.of(0, 255, 16));
  assert.deepEqual(hexToBytes('ABcd'), Uint8Array.of(0xab, 0xcd));
  assert.equal(bytesToHex(Uint8Array.of(0, 255, 16)), '00ff10');
  for (const bad of ['0', 'zz', '0x0g', '12 3']) {
    assert.throws(() => hexToBytes(bad), (e) => isBulwarkError(e, 'HEX_INVALID'), bad);
  }
});
