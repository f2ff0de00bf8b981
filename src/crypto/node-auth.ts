/**
 * Node authentication signatures (client requests, operator commands) with `node:crypto`:
 * Ed25519, or ECDSA on P-384 with SHA-384, the curve of the TLS certificates.
 *
 * ECDSA signatures use the fixed-width IEEE P1363 form (r || s, 96 bytes) and are made canonical:
 * s is always in the low half and verification refuses the high half. Otherwise (r, n − s) would be a
 * second valid signature for the same request, and anything that keys on signed bytes (replay caches,
 * request digests) could be fooled by a re-encoded copy. Ed25519 is canonical already (OpenSSL
 * rejects S ≥ L).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { BulwarkError } from '../common/errors.ts';

export type NodeAuthAlgorithm = 'ed25519' | 'p384';

export interface NodeAuthKey<K extends 'public' | 'private' = 'public' | 'private'> {
  readonly algorithm: NodeAuthAlgorithm;
  readonly type: K;
  readonly key: KeyObject;
}
export type NodeAuthPublicKey = NodeAuthKey<'public'>;
export type NodeAuthPrivateKey = NodeAuthKey<'private'>;

export interface NodeAuthKeyPair {
  readonly publicKey: NodeAuthPublicKey;
  readonly privateKey: NodeAuthPrivateKey;
}

export const NODE_AUTH_SIGNATURE_LENGTH: Record<NodeAuthAlgorithm, number> = { ed25519: 64, p384: 96 };

const P384_N = 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n;
const P384_HALF_N = P384_N >> 1n;

export function generateNodeAuthKeyPair(algorithm: NodeAuthAlgorithm): NodeAuthKeyPair {
  const { publicKey, privateKey } =
    algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  return { publicKey: { algorithm, type: 'public', key: publicKey }, privateKey: { algorithm, type: 'private', key: privateKey } };
}

export function signNodeAuth(privateKey: NodeAuthPrivateKey, data: Uint8Array): Uint8Array {
  if (privateKey.algorithm === 'ed25519') return new Uint8Array(sign(null, data, privateKey.key));
  const sig = new Uint8Array(sign('sha384', data, { key: privateKey.key, dsaEncoding: 'ieee-p1363' }));
  const s = toBigInt(sig.subarray(48));
  if (s > P384_HALF_N) sig.set(toBytes48(P384_N - s), 48);
  return sig;
}

/** Never throws: malformed, high-s or foreign signatures are simply not valid. */
export function verifyNodeAuth(publicKey: NodeAuthPublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== NODE_AUTH_SIGNATURE_LENGTH[publicKey.algorithm]) return false;
  try {
    if (publicKey.algorithm === 'ed25519') return verify(null, data, publicKey.key, signature);
    if (toBigInt(signature.subarray(48)) > P384_HALF_N) return false;
    return verify('sha384', data, { key: publicKey.key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

export function nodeAuthPublicKeyOf(privateKey: NodeAuthPrivateKey): NodeAuthPublicKey {
  return { algorithm: privateKey.algorithm, type: 'public', key: createPublicKey(privateKey.key) };
}

/** SPKI DER, the form pinned in the network file. */
export function exportNodeAuthPublicKey(publicKey: NodeAuthPublicKey): Uint8Array {
  return new Uint8Array(publicKey.key.export({ format: 'der', type: 'spki' }));
}

export function importNodeAuthPublicKey(spkiDer: Uint8Array, expected?: NodeAuthAlgorithm): NodeAuthPublicKey {
  const key = parseKey(() => createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }), 'public');
  return { algorithm: algorithmOf(key, expected), type: 'public', key };
}

export function exportNodeAuthPrivateKey(privateKey: NodeAuthPrivateKey, format: 'der'): Uint8Array;
export function exportNodeAuthPrivateKey(privateKey: NodeAuthPrivateKey, format: 'pem'): string;
export function exportNodeAuthPrivateKey(privateKey: NodeAuthPrivateKey, format: 'der' | 'pem'): Uint8Array | string {
  if (format === 'pem') return privateKey.key.export({ format: 'pem', type: 'pkcs8' }).toString();
  return new Uint8Array(privateKey.key.export({ format: 'der', type: 'pkcs8' }));
}

/** PKCS#8 DER bytes, or a PEM string. */
export function importNodeAuthPrivateKey(encoded: Uint8Array | string, expected?: NodeAuthAlgorithm): NodeAuthPrivateKey {
  const key = parseKey(
    () =>
      typeof encoded === 'string'
        ? createPrivateKey({ key: encoded, format: 'pem' })
        : createPrivateKey({ key: Buffer.from(encoded), format: 'der', type: 'pkcs8' }),
    'private',
  );
  return { algorithm: algorithmOf(key, expected), type: 'private', key };
}

function parseKey(parse: () => KeyObject, kind: string): KeyObject {
  try {
    return parse();
  } catch (cause) {
    throw new BulwarkError('NODE_AUTH_INVALID_KEY', `cannot parse node auth ${kind} key`, { kind }, { cause });
  }
}

function algorithmOf(key: KeyObject, expected: NodeAuthAlgorithm | undefined): NodeAuthAlgorithm {
  let algorithm: NodeAuthAlgorithm | undefined;
  if (key.asymmetricKeyType === 'ed25519') algorithm = 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') algorithm = 'p384';
  if (algorithm === undefined) {
    throw new BulwarkError('NODE_AUTH_UNSUPPORTED_KEY', 'node auth keys are Ed25519 or ECDSA P-384', {
      keyType: key.asymmetricKeyType,
      curve: key.asymmetricKeyDetails?.namedCurve,
    });
  }
  if (expected !== undefined && algorithm !== expected) {
    throw new BulwarkError('NODE_AUTH_WRONG_ALGORITHM', `expected a ${expected} key, got ${algorithm}`, {
      expected,
      actual: algorithm,
    });
  }
  return algorithm;
}

function toBigInt(bytes: Uint8Array): bigint {
  return BigInt('0x' + (Buffer.from(bytes).toString('hex') || '0'));
}

function toBytes48(n: bigint): Uint8Array {
  return new Uint8Array(Buffer.from(n.toString(16).padStart(96, '0'), 'hex'));
}
