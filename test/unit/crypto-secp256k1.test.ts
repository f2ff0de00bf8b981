import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ecrecover as ethjsEcrecover } from '@ethereumjs/util';
import { Common, Hardfork, Mainnet } from '@ethereumjs/common';
import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx';
import { isBulwarkError } from '../../src/common/errors.ts';
import { initHashes, sha256 } from '../../src/crypto/hash.ts';
import { bytesToHex, hexToBytes } from '../../src/crypto/hex.ts';
import {
  assertNativeSecp256k1,
  ecrecover,
  ecsign,
  ecsignForEthereumjs,
  ethereumCustomCrypto,
  generateSecp256k1PrivateKey,
  privateKeyToAddress,
  privateKeyToPublicKey,
  publicKeyToAddress,
  secp256k1Backend,
} from '../../src/crypto/secp256k1.ts';

await initHashes();

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const toBytes32 = (n: bigint): Uint8Array => hexToBytes(n.toString(16).padStart(64, '0'));
const toBigInt = (b: Uint8Array): bigint => BigInt('0x' + (bytesToHex(b) || '0'));
const stripZeros = (b: Uint8Array): Uint8Array => b.subarray(b.findIndex((x) => x !== 0));

// EIP-155's worked example: nonce 9, 20 gwei, 21000 gas, to 0x3535…35, 1 ether, chain id 1.
const EIP155 = {
  privateKey: hexToBytes('4646464646464646464646464646464646464646464646464646464646464646'),
  hash: hexToBytes('daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53'),
  v: 37n,
  r: 18515461264373351373200002665853028612451056578545711640558177340181847433846n,
  s: 46948507304638947509940763649030358759909902576025900602547168820602576006531n,
  address: '9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f',
};

type Outcome = { ok: string } | { err: true };
function outcome(f: () => Uint8Array): Outcome {
  try {
    return { ok: bytesToHex(f()) };
  } catch {
    return { err: true };
  }
}

test('the native binding is the one in use', () => {
  assert.equal(secp256k1Backend(), 'native');
  assert.doesNotThrow(() => assertNativeSecp256k1());
});

test('EIP-155 example: recover the sender, and reproduce the signature', () => {
  const pub = ecrecover(EIP155.hash, EIP155.v, toBytes32(EIP155.r), toBytes32(EIP155.s), 1n);
  assert.equal(bytesToHex(publicKeyToAddress(pub)), EIP155.address);
  assert.equal(bytesToHex(privateKeyToAddress(EIP155.privateKey)), EIP155.address);
  const sig = ecsign(EIP155.hash, EIP155.privateKey); // RFC 6979 is deterministic
  assert.equal(toBigInt(sig.r), EIP155.r);
  assert.equal(toBigInt(sig.s), EIP155.s);
  assert.equal(1n * 2n + 35n + sig.v, EIP155.v);
});

test('ecrecover matches @ethereumjs/util on random keys, for every v convention', () => {
  for (let i = 0; i < 50; i++) {
    const sk = generateSecp256k1PrivateKey();
    const hash = randomBytes(32);
    const { r, s, v } = ecsign(hash, sk);
    const expected = bytesToHex(privateKeyToPublicKey(sk));
    const chainId = [1n, 1337n, 2n ** 40n + 7n][i % 3]!;
    const highS = toBytes32(N - toBigInt(s)); // (r, n−s) with the other parity is the same signature
    const cases: Array<[bigint, Uint8Array, Uint8Array, bigint | undefined]> = [
      [v, r, s, undefined],
      [v, r, s, chainId],
      [27n + v, r, s, undefined],
      [chainId * 2n + 35n + v, r, s, chainId],
      [27n + (1n - v), r, highS, undefined],
      [chainId * 2n + 35n + (v ^ 1n), stripZeros(r), stripZeros(highS), chainId],
    ];
    for (const [vv, rr, ss, cid] of cases) {
      const ours = outcome(() => ecrecover(hash, vv, rr, ss, cid));
      assert.deepEqual(ours, outcome(() => ethjsEcrecover(hash, vv, rr, ss, cid)));
      assert.deepEqual(ours, { ok: expected }, `v=${vv} chainId=${cid}`);
    }
  }
});

test('ecrecover accepts and rejects exactly what @ethereumjs/util does', () => {
  const sk = generateSecp256k1PrivateKey();
  const hash = randomBytes(32);
  const { r, s, v } = ecsign(hash, sk);
  const ff = new Uint8Array(32).fill(0xff);
  const cases: Array<[string, Uint8Array, bigint, Uint8Array, Uint8Array, bigint | undefined]> = [
    ['v 26', hash, 26n, r, s, undefined],
    ['v 29', hash, 29n, r, s, undefined],
    ['v 37 without chain id', hash, 37n, r, s, undefined],
    ['v 27 with chain id', hash, 27n + v, r, s, 1n],
    ['v for another chain', hash, 5n * 2n + 35n + v, r, s, 1n],
    ['negative v', hash, -1n, r, s, undefined],
    ['r = 0', hash, 27n, new Uint8Array(32), s, undefined],
    ['s = 0', hash, 27n, r, new Uint8Array(32), undefined],
    ['r = n', hash, 27n, toBytes32(N), s, undefined],
    ['s = n', hash, 27n, r, toBytes32(N), undefined],
    ['r all ones', hash, 27n, ff, s, undefined],
    ['r of 33 bytes', hash, 27n, Uint8Array.of(0, ...r), s, undefined],
    ['empty r', hash, 27n, new Uint8Array(), s, undefined],
    ['empty digest', new Uint8Array(), 27n + v, r, s, undefined],
    ['31-byte digest', hash.subarray(1), 27n + v, r, s, undefined],
    ['33-byte digest', Uint8Array.of(...hash, 7), 27n + v, r, s, undefined],
    ['digest above n', ff, 27n + v, r, s, undefined],
  ];
  for (let i = 0; i < 20; i++) cases.push([`random r ${i}`, hash, 27n + BigInt(i % 2), randomBytes(32), s, undefined]);
  for (const [name, h, vv, rr, ss, cid] of cases) {
    assert.deepEqual(
      outcome(() => ecrecover(h, vv, rr, ss, cid)),
      outcome(() => ethjsEcrecover(h, vv, rr, ss, cid)),
      name,
    );
  }
});

test('invalid v is a typed error with ethereumjs wording', () => {
  const { r, s } = ecsign(randomBytes(32), generateSecp256k1PrivateKey());
  assert.throws(
    () => ecrecover(randomBytes(32), 30n, r, s),
    (e) => isBulwarkError(e, 'SECP256K1_INVALID_V') && e.message === 'Invalid signature v value',
  );
  assert.throws(() => ecrecover(randomBytes(32), 27n, new Uint8Array(32), s), (e) => isBulwarkError(e, 'SECP256K1_RECOVERY_FAILED'));
});

test('as customCrypto: transactions sign and verify exactly as with the ethereumjs defaults', () => {
  const plain = new Common({ chain: Mainnet, hardfork: Hardfork.Prague });
  const ours = new Common({ chain: Mainnet, hardfork: Hardfork.Prague, customCrypto: ethereumCustomCrypto() });
  const legacy = {
    nonce: 9n,
    gasPrice: 20_000_000_000n,
    gasLimit: 21_000n,
    to: '0x3535353535353535353535353535353535353535',
    value: 10n ** 18n,
  } as const;
  const a = createLegacyTx(legacy, { common: ours });
  assert.equal(bytesToHex(a.getHashedMessageToSign()), bytesToHex(EIP155.hash));
  const signed = a.sign(EIP155.privateKey);
  assert.equal(signed.v, EIP155.v);
  assert.equal(signed.r, EIP155.r);
  assert.equal(signed.s, EIP155.s);
  assert.equal(signed.getSenderAddress().toString(), '0x' + EIP155.address);

  for (let i = 0; i < 10; i++) {
    const sk = generateSecp256k1PrivateKey();
    const { gasPrice: _legacyOnly, ...shared } = legacy;
    const data = { ...shared, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 1n, chainId: 1n, nonce: BigInt(i) };
    const mine = createFeeMarket1559Tx(data, { common: ours }).sign(sk);
    const theirs = createFeeMarket1559Tx(data, { common: plain }).sign(sk);
    assert.equal(bytesToHex(mine.serialize()), bytesToHex(theirs.serialize()));
    assert.ok(mine.verifySignature());
    assert.equal(bytesToHex(mine.getSenderAddress().bytes), bytesToHex(privateKeyToAddress(sk)));
  }
});

test('ecsignForEthereumjs keeps noble defaults: SHA-256 prehash, compact form', () => {
  const sk = generateSecp256k1PrivateKey();
  const msg = randomBytes(100);
  const { r, s, v } = ecsign(sha256(msg), sk);
  assert.equal(bytesToHex(ecsignForEthereumjs(msg, sk)), bytesToHex(r) + bytesToHex(s));
  const digest = randomBytes(32);
  const rec = ecsign(digest, sk);
  const recovered = ecsignForEthereumjs(digest, sk, { prehash: false, format: 'recovered' });
  assert.equal(bytesToHex(recovered), bytesToHex(Uint8Array.of(Number(rec.v), ...rec.r, ...rec.s)));
  const der = ecsignForEthereumjs(digest, sk, { prehash: false, format: 'der' });
  assert.equal(der[0], 0x30);
  assert.notEqual(bytesToHex(ecsignForEthereumjs(digest, sk, { prehash: false, extraEntropy: true })), bytesToHex(rec.r) + bytesToHex(rec.s));
  assert.ok(v === 0n || v === 1n);
});

test('bad keys and digests are typed errors', () => {
  const bad = [new Uint8Array(32), toBytes32(N), new Uint8Array(31).fill(1)];
  for (const sk of bad) {
    assert.throws(() => ecsign(randomBytes(32), sk), (e) => isBulwarkError(e, 'SECP256K1_INVALID_PRIVATE_KEY'));
    assert.throws(() => privateKeyToAddress(sk), (e) => isBulwarkError(e, 'SECP256K1_INVALID_PRIVATE_KEY'));
  }
  assert.throws(() => ecsign(randomBytes(31), generateSecp256k1PrivateKey()), (e) => isBulwarkError(e, 'SECP256K1_INVALID_DIGEST'));
  assert.throws(() => publicKeyToAddress(new Uint8Array(65)), (e) => isBulwarkError(e, 'SECP256K1_INVALID_PUBKEY'));
});
