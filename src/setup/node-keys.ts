/**
 * Generating the trusted setup's key material for one node: a TLS key and its self-signed
 * certificate for every node; a bootstrap BLS consensus key (with its proof of possession) and an
 * Ed25519 execution key for a replica; an Ed25519 authentication key for a client node; an Ed25519
 * key for the operator.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { generateBlsSecretKey, type BlsSecretKey } from '../crypto/bls.ts';
import { generateNodeAuthKeyPair, type NodeAuthPrivateKey } from '../crypto/node-auth.ts';
import { createCertificate, randomSerial, type PinnedCertificate } from './certificate.ts';
import type { KeySource } from './key-source.ts';
import { generateTlsKey, tlsKeyFromMaterial } from './tls-key.ts';

/** Deterministic certificates get a fixed window so that the same seed gives the same bytes. */
export const DETERMINISTIC_NOT_BEFORE = new Date('2025-01-01T00:00:00Z');
export const DETERMINISTIC_NOT_AFTER = new Date('2125-01-01T00:00:00Z');

export interface CertificatePolicy {
  readonly now: Date;
  readonly validityDays: number;
}

export interface TlsIdentity {
  readonly key: KeyObject;
  readonly certificate: PinnedCertificate;
}

export function makeTlsIdentity(source: KeySource, label: string, commonName: string, host: string, policy: CertificatePolicy): TlsIdentity {
  const key = source.deterministic ? tlsKeyFromMaterial(source.bytes(`${label}/tls-key`, 64)) : generateTlsKey();
  // Backdated a day so that a peer whose clock runs behind does not see a certificate from the future.
  const notBefore = source.deterministic ? DETERMINISTIC_NOT_BEFORE : new Date(policy.now.getTime() - 86_400_000);
  const notAfter = source.deterministic
    ? DETERMINISTIC_NOT_AFTER
    : new Date(policy.now.getTime() + policy.validityDays * 86_400_000);
  const certificate = createCertificate({
    privateKey: key,
    commonName,
    hosts: [host],
    notBefore,
    notAfter,
    serial: source.deterministic ? source.bytes(`${label}/tls-serial`, 16) : randomSerial(),
    deterministic: source.deterministic,
  });
  return { key, certificate };
}

export function makeBlsKey(source: KeySource, label: string): BlsSecretKey {
  return generateBlsSecretKey(source.bytes(`${label}/bls-bootstrap`, 32));
}

export function makeEd25519Key(source: KeySource, label: string): NodeAuthPrivateKey {
  if (!source.deterministic) return generateNodeAuthKeyPair('ed25519').privateKey;
  // PKCS#8 for Ed25519 is a fixed 16-byte prefix and the 32-byte seed (RFC 8410).
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  const der = Buffer.concat([prefix, source.bytes(label, 32)]);
  return { algorithm: 'ed25519', type: 'private', key: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
}
