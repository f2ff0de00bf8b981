/**
 * What the state machine needs from cryptography, as deterministic functions: signing with this
 * replica's keys, verifying others', combining shares. Signing and verifying are pure (BLS and
 * Ed25519 signatures are deterministic), so calling them inside `step` keeps it a function of
 * (state, input). Production wires `bls-crypto.ts` (BLS12-381 consensus key, Ed25519 execution
 * key and client keys); the simulator wires the same interface over keyed hashes so that ten
 * thousand seeded runs finish in minutes, with the same unforgeability a decorator cannot break.
 */
import type { Certificate, ClientRequest } from '../codec/messages.ts';
import type { NodeAuthPrivateKey } from '../crypto/node-auth.ts';
import type { KeyRecord } from '../codec/reserved-pages.ts';

/**
 * A client node's requests signed with its previous authentication key are still accepted for this
 * many sequence numbers after its new key takes effect (those in flight when it switched).
 */
export const AUTH_KEY_GRACE_SEQS = 600;

export type SigningDomain = 'consensus' | 'checkpoint';

export interface Share {
  readonly replica: number;
  readonly signature: Uint8Array;
}

/** A certificate the state machine will verify, as the shell can learn it ahead of time. */
export interface CertificateCheck {
  readonly domain: SigningDomain;
  /** The sequence number whose keys sign it. */
  readonly seq: number;
  readonly message: Uint8Array;
  readonly cert: Certificate;
  readonly minSigners: number;
}

/**
 * Signing and verification take the sequence number the signature is about: each replica's key in
 * effect there signs it, as the key history says (`keys.ts`, `KeyHistory`). The crypto is made over
 * that history and only reads it: the keys change in the replica's state (`ReplicaState.keys`),
 * when a batch publishing one executes or when the state is restored from the reserved pages.
 */
export interface ConsensusCrypto {
  /** SHA-256: batch digests and the results tree. */
  digest(bytes: Uint8Array): Uint8Array;
  sign(domain: SigningDomain, message: Uint8Array, seq: number): Uint8Array;
  verifyShare(domain: SigningDomain, replica: number, message: Uint8Array, signature: Uint8Array, seq: number): boolean;
  /** Aggregates shares (already individually valid or to be checked as a whole) into a certificate. */
  combine(shares: readonly Share[]): Certificate;
  /** Well-formed, at least `minSigners` signers, and valid under the keys in effect at `seq`; never throws. */
  verifyCertificate(domain: SigningDomain, message: Uint8Array, cert: Certificate, minSigners: number, seq: number): boolean;
  /**
   * Optional: checks several certificates together before the messages carrying them are stepped,
   * remembering those that passed so `verifyCertificate` answers them at once. Never changes an
   * answer: a certificate that fails here is simply checked again, alone.
   */
  preverify?(checks: readonly CertificateCheck[]): void;
  /** Signs what this replica executed at `seq` with its execution key in effect there. */
  signExecution(message: Uint8Array, seq: number): Uint8Array;
  verifyExecution(replica: number, message: Uint8Array, signature: Uint8Array, seq: number): boolean;
  /**
   * A request's signature: a client node's under its authentication key in effect at `seq` (or the
   * previous one, `AUTH_KEY_GRACE_SEQS` after a switch); a replica's own request (a key exchange)
   * under its consensus key in effect at `seq`.
   */
  verifyRequest(request: ClientRequest, seq: number): boolean;
  /** Signs a request of this replica's own (a key exchange) with its key in effect at `seq`. */
  signRequest(bytes: Uint8Array, seq: number): Uint8Array;
  /**
   * A published key's public key, parsed, if it is well-formed and its proof of possession (over
   * the public key, in its own domain) is valid; null otherwise. What the key history holds
   * (`keys.ts`, `addPublishedKey`).
   */
  possessedKey(record: KeyRecord): unknown;
  /** An operator command's signature under the operator key of the network file. */
  verifyOperator(message: Uint8Array, signature: Uint8Array): boolean;
  /** Whether this replica holds the private key it signs `seq` with. */
  canSign(seq: number): boolean;
}

/**
 * The crypto a replica's shell holds (`replica/replica-node.ts`): the state machine's, plus the
 * shell's handle on this replica's own secrets — added when the shell generates a key (before it
 * publishes the public half), forgotten once the key is retired. `Secret` is a consensus secret as
 * the shell's key storage hands it over (`setup/consensus-keys.ts`), a BLS secret key in
 * production (`bls-crypto.ts`); the shell only passes it on. The simulator's keyed-hash crypto
 * implements it too (`test/sim/harness/sim-crypto.ts`).
 */
export interface ReplicaCrypto<Secret> extends ConsensusCrypto {
  /** A consensus secret this replica generated for `epoch`. */
  addSecret(epoch: number, secret: Secret): void;
  /** Drops a retired consensus secret from memory (the shell has its storage erase it). */
  forgetSecret(epoch: number): void;
  /** Epochs whose consensus secrets this replica holds. */
  secretEpochs(): number[];
  /** An execution secret this replica generated for `epoch`. */
  addExecutionSecret(epoch: number, secret: NodeAuthPrivateKey): void;
  forgetExecutionSecret(epoch: number): void;
}
