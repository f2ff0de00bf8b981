/**
 * What the state machine needs from cryptography, as deterministic functions: signing with this
 * replica's keys, verifying others', combining shares. Signing and verifying are pure (BLS and
 * Ed25519 signatures are deterministic), so calling them inside `step` keeps it a function of
 * (state, input). Production wires `bls-crypto.ts` (BLS12-381 consensus key, Ed25519 execution
 * key and client keys); the simulator wires the same interface over keyed hashes so that ten
 * thousand seeded runs finish in minutes, with the same unforgeability a decorator cannot break.
 */
import type { Certificate, ClientRequest } from '../codec/messages.ts';

export type SigningDomain = 'consensus' | 'checkpoint';

export interface Share {
  readonly replica: number;
  readonly signature: Uint8Array;
}

/** A certificate the state machine will verify, as the shell can learn it ahead of time. */
export interface CertificateCheck {
  readonly domain: SigningDomain;
  readonly message: Uint8Array;
  readonly cert: Certificate;
  readonly minSigners: number;
}

export interface ConsensusCrypto {
  /** SHA-256: batch digests and the results tree. */
  digest(bytes: Uint8Array): Uint8Array;
  sign(domain: SigningDomain, message: Uint8Array): Uint8Array;
  verifyShare(domain: SigningDomain, replica: number, message: Uint8Array, signature: Uint8Array): boolean;
  /** Aggregates shares (already individually valid or to be checked as a whole) into a certificate. */
  combine(shares: readonly Share[]): Certificate;
  /** Well-formed, at least `minSigners` signers, and valid; never throws. */
  verifyCertificate(domain: SigningDomain, message: Uint8Array, cert: Certificate, minSigners: number): boolean;
  /**
   * Optional: checks several certificates together before the messages carrying them are stepped,
   * remembering those that passed so `verifyCertificate` answers them at once. Never changes an
   * answer: a certificate that fails here is simply checked again, alone.
   */
  preverify?(checks: readonly CertificateCheck[]): void;
  signExecution(message: Uint8Array): Uint8Array;
  verifyExecution(replica: number, message: Uint8Array, signature: Uint8Array): boolean;
  /** The client authentication hook: the request's signature under its client's key. */
  verifyRequest(request: ClientRequest): boolean;
}
