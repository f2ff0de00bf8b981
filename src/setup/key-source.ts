/**
 * Where key material comes from: the operating system's randomness, or, in deterministic mode, a
 * seed expanded with HKDF-SHA256 under a label naming the node and the key's purpose. Every label is
 * distinct, so no two keys share material, and the same seed always gives the same network.
 *
 * Deterministic mode is for tests and reproducible local networks only: anyone holding the seed holds
 * every private key of the network.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { BulwarkError } from '../common/errors.ts';

export const MIN_SEED_BYTES = 16;

export interface KeySource {
  readonly deterministic: boolean;
  bytes(label: string, length: number): Uint8Array;
}

export const randomKeySource: KeySource = {
  deterministic: false,
  bytes: (_label, length) => new Uint8Array(randomBytes(length)),
};

export function seededKeySource(seed: Uint8Array): KeySource {
  if (seed.length < MIN_SEED_BYTES) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `the seed must be at least ${MIN_SEED_BYTES} bytes`, { length: seed.length });
  }
  const ikm = Buffer.from(seed);
  return {
    deterministic: true,
    bytes: (label, length) => new Uint8Array(hkdfSync('sha256', ikm, 'bulwark-init/v1', label, length)),
  };
}
