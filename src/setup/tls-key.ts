/**
 * The P-384 key behind a node's TLS certificate. Fresh keys come from OpenSSL; in deterministic
 * mode the private scalar is derived from the seed and turned into a key through JWK, since
 * `node:crypto` cannot import a bare scalar.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { p384 } from '@noble/curves/nist.js';
import { BulwarkError } from '../common/errors.ts';

/** The order of the P-384 group. */
const P384_N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;

export function generateTlsKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey;
}

/**
 * Maps ≥ 64 bytes of seed-derived material onto a scalar in 1..n-1. Reducing 512 bits modulo a
 * 384-bit order leaves a bias below 2^-128, which is what FIPS 186-5's "extra random bits" method
 * accepts.
 */
export function tlsKeyFromMaterial(material: Uint8Array): KeyObject {
  if (material.length < 64) {
    throw new BulwarkError('SETUP_INTERNAL', 'a P-384 key needs at least 64 bytes of material', { length: material.length });
  }
  const wide = BigInt('0x' + Buffer.from(material).toString('hex'));
  const d = (wide % (P384_N - 1n)) + 1n;
  const scalar = Buffer.from(d.toString(16).padStart(96, '0'), 'hex');
  const point = p384.getPublicKey(scalar, false); // 0x04 ‖ x ‖ y
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
  return createPrivateKey({
    key: { kty: 'EC', crv: 'P-384', d: b64(scalar), x: b64(point.subarray(1, 49)), y: b64(point.subarray(49, 97)) },
    format: 'jwk',
  });
}

/** The raw scalar, for deterministic (RFC 6979) certificate signatures. */
export function tlsKeyScalar(privateKey: KeyObject): Uint8Array {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.d === undefined) throw new BulwarkError('SETUP_INTERNAL', 'not a private key');
  return new Uint8Array(Buffer.from(jwk.d, 'base64url'));
}

export function exportTlsKeyPkcs8(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
}

export function tlsKeyToPem(privateKey: KeyObject): string {
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** PKCS#8 DER of a P-384 key; anything else is refused, so a wrong key cannot reach TLS. */
export function importTlsKeyPkcs8(der: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new BulwarkError('TLS_KEY_INVALID', 'not a PKCS#8 private key', {}, { cause });
  }
  if (!isP384(key)) throw new BulwarkError('TLS_KEY_INVALID', 'the TLS key must be ECDSA P-384 (secp384r1)');
  return key;
}

export function isP384(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1';
}

export function tlsPublicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}
