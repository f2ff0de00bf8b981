import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isBulwarkError } from '../../src/common/errors.ts';
import {
  NODE_AUTH_SIGNATURE_LENGTH,
  exportNodeAuthPrivateKey,
  exportNodeAuthPublicKey,
  generateNodeAuthKeyPair,
  importNodeAuthPrivateKey,
  importNodeAuthPublicKey,
  nodeAuthPublicKeyOf,
  signNodeAuth,
  verifyNodeAuth,
  type NodeAuthAlgorithm,
} from '../../src/crypto/node-auth.ts';

const P384_HALF_N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n >> 1n;
const data = new TextEncoder().encode('client request 17');
const algorithms: NodeAuthAlgorithm[] = ['ed25519', 'p384'];

for (const algorithm of algorithms) {
  test(`${algorithm}: sign, verify, and every tampering fails without throwing`, () => {
    const { publicKey, privateKey } = generateNodeAuthKeyPair(algorithm);
    const sig = signNodeAuth(privateKey, data);
    assert.equal(sig.length, NODE_AUTH_SIGNATURE_LENGTH[algorithm]);
    assert.equal(verifyNodeAuth(publicKey, data, sig), true);
    assert.equal(verifyNodeAuth(publicKey, Uint8Array.of(...data, 0), sig), false);
    const flipped = sig.slice();
    flipped[5]! ^= 1;
    assert.equal(verifyNodeAuth(publicKey, data, flipped), false);
    assert.equal(verifyNodeAuth(generateNodeAuthKeyPair(algorithm).publicKey, data, sig), false);
    for (const junk of [new Uint8Array(), sig.subarray(1), Uint8Array.of(...sig, 0), randomBytes(sig.length), new Uint8Array(sig.length)]) {
      assert.equal(verifyNodeAuth(publicKey, data, junk), false);
    }
  });

  test(`${algorithm}: keys export and import (SPKI DER, PKCS#8 DER and PEM)`, () => {
    const { publicKey, privateKey } = generateNodeAuthKeyPair(algorithm);
    const pub = importNodeAuthPublicKey(exportNodeAuthPublicKey(publicKey), algorithm);
    assert.equal(pub.algorithm, algorithm);
    const fromDer = importNodeAuthPrivateKey(exportNodeAuthPrivateKey(privateKey, 'der'));
    const pem = exportNodeAuthPrivateKey(privateKey, 'pem');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
    const fromPem = importNodeAuthPrivateKey(pem, algorithm);
    for (const sk of [fromDer, fromPem]) {
      assert.equal(sk.algorithm, algorithm);
      assert.equal(verifyNodeAuth(pub, data, signNodeAuth(sk, data)), true);
    }
    assert.deepEqual(exportNodeAuthPublicKey(nodeAuthPublicKeyOf(fromPem)), exportNodeAuthPublicKey(publicKey));
  });
}

test('p384: signatures are low-s, and the high-s twin is refused', () => {
  const { publicKey, privateKey } = generateNodeAuthKeyPair('p384');
  const n = P384_HALF_N * 2n + 1n;
  for (let i = 0; i < 20; i++) {
    const sig = signNodeAuth(privateKey, data);
    const s = BigInt('0x' + Buffer.from(sig.subarray(48)).toString('hex'));
    assert.ok(s <= P384_HALF_N);
    const twin = sig.slice();
    twin.set(Buffer.from((n - s).toString(16).padStart(96, '0'), 'hex'), 48);
    assert.equal(verifyNodeAuth(publicKey, data, twin), false);
  }
});

test('imports refuse other key types, the wrong algorithm and garbage', () => {
  const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(p256.publicKey.export({ format: 'der', type: 'spki' }));
  assert.throws(() => importNodeAuthPublicKey(spki), (e) => isBulwarkError(e, 'NODE_AUTH_UNSUPPORTED_KEY'));
  const ed = generateNodeAuthKeyPair('ed25519');
  assert.throws(
    () => importNodeAuthPublicKey(exportNodeAuthPublicKey(ed.publicKey), 'p384'),
    (e) => isBulwarkError(e, 'NODE_AUTH_WRONG_ALGORITHM'),
  );
  assert.throws(() => importNodeAuthPublicKey(randomBytes(44)), (e) => isBulwarkError(e, 'NODE_AUTH_INVALID_KEY'));
  assert.throws(() => importNodeAuthPrivateKey('not a pem'), (e) => isBulwarkError(e, 'NODE_AUTH_INVALID_KEY'));
  assert.throws(
    () => importNodeAuthPrivateKey(exportNodeAuthPublicKey(ed.publicKey)),
    (e) => isBulwarkError(e, 'NODE_AUTH_INVALID_KEY'),
  );
});
