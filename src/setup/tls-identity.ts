/**
 * A fresh TLS identity for a node whose certificate rotates: a new P-384 key and a self-signed
 * certificate under the same policy as the trusted setup's (`bulwark init`): backdated a day, valid
 * for the setup's default span unless told otherwise. Rotation keys are always random, never derived
 * from a seed: the seed of a deterministic network is no secret worth the name.
 */
import { BulwarkError } from '../common/errors.ts';
import { DEFAULT_CERT_VALIDITY_DAYS } from './generate.ts';
import { randomKeySource } from './key-source.ts';
import { makeTlsIdentity, type TlsIdentity } from './node-keys.ts';

export interface TlsIdentityRequest {
  readonly commonName: string;
  /** Host name or IP address for the subjectAltName; informative only (peers pin bytes). */
  readonly host: string;
  readonly validityDays?: number;
  readonly now?: Date;
}

export function generateTlsIdentity(o: TlsIdentityRequest): TlsIdentity {
  const validityDays = o.validityDays ?? DEFAULT_CERT_VALIDITY_DAYS;
  // The same bounds as `generateNetwork`.
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 36_500) {
    throw new BulwarkError('SETUP_INVALID_INPUT', `certificate validity must be 1..36500 days, got ${validityDays}`);
  }
  // The label only names material in deterministic mode; a random source ignores it.
  return makeTlsIdentity(randomKeySource, 'rotation', o.commonName, o.host, { now: o.now ?? new Date(), validityDays });
}
